"""Timers of the mall. Each has a per-object task (scheduled with a countdown) and a periodic sweep in the beat
schedule, so a lost task never leaves stock held or a team open. All are idempotent."""
from celery import shared_task

from mall.services import group_buys, orders


@shared_task(name="mall.order_close_unpaid_task")
def order_close_unpaid_task(order_id: int) -> bool:
    return orders.order_close_unpaid(order_id=order_id)


@shared_task(name="mall.orders_close_expired_task")
def orders_close_expired_task() -> int:
    return orders.orders_close_expired()


@shared_task(name="mall.order_auto_confirm_task")
def order_auto_confirm_task(order_id: int) -> bool:
    return orders.order_auto_confirm(order_id=order_id)


@shared_task(name="mall.orders_auto_confirm_task")
def orders_auto_confirm_task() -> int:
    return orders.orders_auto_confirm_due()


@shared_task(name="mall.group_buy_team_expire_task")
def group_buy_team_expire_task(team_id: int) -> bool:
    return group_buys.group_buy_team_expire(team_id=team_id)


@shared_task(name="mall.group_buy_teams_expire_task")
def group_buy_teams_expire_task() -> int:
    return group_buys.group_buy_teams_expire_due()


@shared_task(name="mall.bargain_sessions_expire_task")
def bargain_sessions_expire_task() -> int:
    from mall.services import bargains

    return bargains.bargain_sessions_expire_due()
