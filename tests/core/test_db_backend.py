"""The PostgreSQL backend (core/db/postgresql): a connection in steady use is not health-checked before every
request, an idle one still is, and a dead idle one is replaced before the request's first query fails on it."""
import time

import psycopg2
import pytest
from django.conf import settings
from django.db import connection


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    other = psycopg2.connect(**params)
    try:
        other.autocommit = True
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


@pytest.mark.django_db(transaction=True)
def test_a_connection_used_a_moment_ago_is_trusted_at_the_next_request():
    first = _backend_pid()
    connection.close_if_unusable_or_obsolete()  # what Django runs when a request starts
    assert connection.health_check_done  # no SELECT 1 before this request's first query
    assert _backend_pid() == first


@pytest.mark.django_db(transaction=True)
def test_an_idle_connection_is_checked_and_a_dead_one_replaced_before_the_first_query():
    first = _backend_pid()
    _terminate(first)  # the server dropped the session while it sat idle
    connection.used_at = time.monotonic() - settings.DATABASE_HEALTH_CHECK_IDLE_SECONDS - 1
    connection.close_if_unusable_or_obsolete()
    assert not connection.health_check_done
    second = _backend_pid()  # the check found it dead and connected again: no error reaches the request
    assert second != first
    assert connection.health_check_done
