"""Celery tasks of the mall: thin, idempotent, each calling one service.

Timers are sweeps in the beat schedule, not a countdown task per object: the pay window (every 30 s), group-buy
teams (every minute), bargains, 自动确认收货. Placing an order then costs no broker message, a broker outage loses
no timer (the sweep finds the work in the database), and no day-long countdown sits in Redis, whose transport
re-delivers such tasks every visibility timeout. Refunds have a task per refund (sent after commit) and a sweep.
"""
from celery import shared_task

from mall.services import bargains, group_buys, orders, refunds

REFUND_RETRY_BACKOFF_SECONDS = 30
REFUND_RETRY_BACKOFF_MAX_SECONDS = 3600


@shared_task(name="mall.orders_close_expired_task")
def orders_close_expired_task() -> int:
    return orders.orders_close_expired()


@shared_task(name="mall.orders_auto_confirm_task")
def orders_auto_confirm_task() -> int:
    return orders.orders_auto_confirm_due()


@shared_task(name="mall.group_buy_teams_expire_task")
def group_buy_teams_expire_task() -> int:
    return group_buys.group_buy_teams_expire_due()


@shared_task(name="mall.bargain_sessions_expire_task")
def bargain_sessions_expire_task() -> int:
    return bargains.bargain_sessions_expire_due()


@shared_task(name="mall.refund_send_task", bind=True, max_retries=8, acks_late=True)
def refund_send_task(self, refund_id: int) -> str:
    """Send one refund to its provider, outside any transaction; transient failures retry with backoff."""
    try:
        return refunds.refund_send(refund_id=refund_id)
    except refunds.RefundRetryLater as later:
        countdown = min(REFUND_RETRY_BACKOFF_SECONDS * 2**self.request.retries, REFUND_RETRY_BACKOFF_MAX_SECONDS)
        raise self.retry(exc=later, countdown=countdown) from later


@shared_task(name="mall.refunds_send_due_task")
def refunds_send_due_task() -> int:
    return refunds.refunds_send_due()
