"""Side effects leave only after commit (STYLE.md rule 7), and a broker outage never fails or blocks a committed
request.

`enqueue_on_commit` sends a Celery task once the current transaction commits. Publishing has short, bounded
timeouts (settings: CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_BROKER_CONNECTION_TIMEOUT, no publish retries); when
the broker cannot take the task, the failure is logged and swallowed: the change is committed, and every task sent
this way has a sweep that finds its work in the database (event deliveries, order and team timers, refunds), so
nothing is lost, only late. After a failure this process does not try the broker again for
BROKER_RETRY_AFTER_SECONDS, so during an outage only one request in that time pays the timeout.
"""
import logging
import threading
import time
from functools import partial
from typing import Any

import redis.exceptions
from celery import current_app
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# OSError covers the socket's own ConnectionError and TimeoutError.
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError,
)


class _Breaker:
    """Per process: after a failed publish, skip the broker for a while (the sweeps do the skipped work)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + settings.BROKER_RETRY_AFTER_SECONDS

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = _Breaker()


def publish(task: Any, *args: Any, countdown: int | None = None, **kwargs: Any) -> bool:
    """Send a task (a task, a signature or a registered task's name) now. True if the broker took it; False
    (logged) if it is unreachable. A name lets a service schedule its app's task without importing tasks.py,
    which imports the services."""
    if isinstance(task, str):
        task = current_app.tasks[task]
    if task.app.conf.task_always_eager:  # tests: run it here, and let its own errors surface
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
        return True
    if breaker.is_open():
        logger.info("broker marked unavailable, task %s%s left to its sweep", task.name, args)
        return False
    try:
        task.apply_async(args=args, kwargs=kwargs, countdown=countdown, retry=False)
    except BROKER_ERRORS as error:
        breaker.trip()
        logger.warning("broker unavailable, task %s%s not sent (its sweep will do the work): %s: %s",
                       task.name, args, type(error).__name__, error)
        return False
    return True


def enqueue_on_commit(task: Any, *args: Any, countdown: int | None = None, using: str | None = None,
                      **kwargs: Any) -> None:
    """Send a Celery task once the current transaction commits (at once outside a transaction).

    A rolled-back transaction sends nothing, so a worker never sees a row that does not exist.
    """
    transaction.on_commit(partial(publish, task, *args, countdown=countdown, **kwargs), using=using)
