"""Celery tasks of the mall: thin, idempotent, each calling one service.

Timers: the pay window (30 min) has a countdown task per order; day-long windows (group-buy teams, bargains,
自动确认收货) have only their periodic sweep, because the Redis broker re-delivers long countdown tasks every
visibility timeout. Every timer also has a sweep in the beat schedule, so a lost task (a broker outage) never
leaves stock held, a team open or money unreturned.
"""
from celery import shared_task

from mall.services import bargains, group_buys, orders, refunds

REFUND_RETRY_BACKOFF_SECONDS = 30
REFUND_RETRY_BACKOFF_MAX_SECONDS = 3600


@shared_task(name="mall.order_close_unpaid_task")
def order_close_unpaid_task(order_id: int) -> bool:
    return orders.order_close_unpaid(order_id=order_id)


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
