"""Celery tasks of the accounts app: thin, each calling one service."""
from celery import shared_task

from accounts import tokens


@shared_task(name="accounts.auth_sessions_purge_task")
def auth_sessions_purge_task() -> int:
    return tokens.auth_sessions_purge()
