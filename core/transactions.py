"""Side effects leave only after commit (STYLE.md rule 7)."""
from functools import partial
from typing import Any

from django.db import transaction


def enqueue_on_commit(task: Any, *args: Any, using: str | None = None, **kwargs: Any) -> None:
    """Send a Celery task once the current transaction commits (at once outside a transaction).

    A rolled-back transaction sends nothing, so a worker never sees a row that does not exist.
    """
    transaction.on_commit(partial(task.delay, *args, **kwargs), using=using)
