"""Tokens that expire: a session per login and device, a short access token, a refresh token that rotates and is
refused (ending its session) when used twice, logout per device or everywhere, only hashes stored."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import AuthSession, SpentRefreshToken, User
from core.models import BehaviourEvent
from tests.factories import AuthSessionFactory, UserFactory
from tests.helpers import race

pytestmark = pytest.mark.django_db


def client_with(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {access_token}")
    return client


def refresh(refresh_token) -> object:
    return APIClient().post("/api/v1/auth/refresh", {"refresh_token": refresh_token}, format="json")


def session_state(session_id: int) -> tuple:
    session = AuthSession.objects.get(pk=session_id)
    return (session.access_hash, session.refresh_hash, session.revoked_at, session.refresh_count,
            SpentRefreshToken.objects.filter(session=session).count())


def test_a_login_answers_a_pair_that_expires_as_configured_and_stores_only_hashes(settings):
    settings.AUTH_ACCESS_TOKEN_TTL = timedelta(minutes=15)
    settings.AUTH_REFRESH_TOKEN_TTL = timedelta(days=7)
    user = UserFactory()
    before = timezone.now()
    pair = tokens.auth_session_start(user=user, method=AuthSession.Method.SMS_CODE, client="小程序 1.0")
    session = AuthSession.objects.get(pk=pair.session_id)
    assert pair.expires_in == 15 * 60
    assert before + timedelta(minutes=15) <= pair.access_expires_at <= timezone.now() + timedelta(minutes=15)
    assert before + timedelta(days=7) <= pair.refresh_expires_at <= timezone.now() + timedelta(days=7)
    stored = " ".join(str(value) for value in AuthSession.objects.filter(pk=session.pk).values().get().values())
    assert pair.access_token not in stored and pair.refresh_token not in stored
    assert session.access_hash == tokens.token_hash(pair.access_token)
    assert session.refresh_hash == tokens.token_hash(pair.refresh_token)
    assert pair.access_token != pair.refresh_token
    me = client_with(pair.access_token).get("/api/v1/me")
    assert me.status_code == 200 and me.json()["id"] == user.pk


def test_the_access_token_is_one_indexed_lookup_and_no_write():
    session = AuthSessionFactory()
    client = client_with(session.issued_access_token)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries.captured_queries) == 1, [query["sql"] for query in queries.captured_queries]
    assert "access_hash" in queries.captured_queries[0]["sql"]
    assert queries.captured_queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_an_expired_access_token_is_refused_with_its_own_code_and_the_refresh_token_renews_it():
    session = AuthSessionFactory()
    AuthSession.objects.filter(pk=session.pk).update(access_expires_at=timezone.now() - timedelta(seconds=1))
    response = client_with(session.issued_access_token).get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "token_expired")
    assert response["WWW-Authenticate"] == "Token"

    renewed = refresh(session.issued_refresh_token)
    assert renewed.status_code == 200, renewed.json()
    body = renewed.json()
    assert body["token_type"] == "Token" and body["expires_in"] == 7200
    assert {body["access_token"], body["refresh_token"]}.isdisjoint(
        {session.issued_access_token, session.issued_refresh_token})
    assert client_with(body["access_token"]).get("/api/v1/me").status_code == 200
    # the old pair stops working at once: the old access token is unknown now, the old refresh token spent
    response = client_with(session.issued_access_token).get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    session.refresh_from_db()
    assert session.refresh_count == 1 and session.refreshed_at is not None and session.revoked_at is None


def test_a_refresh_token_used_twice_is_refused_and_ends_its_session():
    session = AuthSessionFactory()
    first = refresh(session.issued_refresh_token).json()
    again = refresh(session.issued_refresh_token)
    assert (again.status_code, again.json()["code"]) == (401, "refresh_token_reused")
    session.refresh_from_db()
    assert session.revoked_reason == AuthSession.RevokedReason.REFRESH_REUSED and session.revoked_at is not None
    # whoever got the new pair (the client or a thief) loses it too
    response = client_with(first["access_token"]).get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    response = refresh(first["refresh_token"])
    assert (response.status_code, response.json()["code"]) == (401, "refresh_token_invalid")
    assert BehaviourEvent.objects.filter(kind="auth_session_revoked", actor_id=session.user_id,
                                         payload__reason="refresh_reused").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_of_one_token_at_once_give_one_pair_and_then_end_the_session():
    session = AuthSessionFactory()

    def exchange(index):
        return tokens.auth_session_refresh(refresh_token=session.issued_refresh_token)

    results, errors = race(2, exchange)
    assert len(results) == 1 and [error.code for error in errors] == ["refresh_token_reused"]
    session.refresh_from_db()
    assert session.revoked_reason == AuthSession.RevokedReason.REFRESH_REUSED
    assert SpentRefreshToken.objects.filter(session=session).count() == 1


@pytest.mark.parametrize("body", [{}, {"refresh_token": ""}, {"refresh_token": "short"}, {"refresh_token": None},
                                  {"refresh_token": ["x" * 43]}, {"refresh_token": "ä" * 43}, [], "text"])
def test_a_malformed_refresh_is_a_400_and_changes_nothing(body):
    session = AuthSessionFactory()
    before = session_state(session.pk)
    response = APIClient().post("/api/v1/auth/refresh", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert session_state(session.pk) == before


def test_an_unknown_or_expired_refresh_token_is_refused_and_changes_nothing():
    session = AuthSessionFactory()
    before = session_state(session.pk)
    response = refresh(tokens.token_new())
    assert (response.status_code, response.json()["code"]) == (401, "refresh_token_invalid")
    assert session_state(session.pk) == before
    AuthSession.objects.filter(pk=session.pk).update(refresh_expires_at=timezone.now() - timedelta(seconds=1))
    before = session_state(session.pk)
    response = refresh(session.issued_refresh_token)
    assert (response.status_code, response.json()["code"]) == (401, "refresh_token_expired")
    assert session_state(session.pk) == before


def test_a_disabled_account_can_neither_refresh_nor_use_its_access_token():
    session = AuthSessionFactory()
    User.objects.filter(pk=session.user_id).update(is_active=False)
    before = session_state(session.pk)
    response = refresh(session.issued_refresh_token)
    assert (response.status_code, response.json()["code"]) == (403, "account_disabled")
    assert session_state(session.pk) == before
    response = client_with(session.issued_access_token).get("/api/v1/me")
    assert (response.status_code, response.json()["code"]) == (401, "account_disabled")


def test_logout_ends_this_devices_session_only_and_all_devices_ends_every_one():
    user = UserFactory()
    phone, tablet, laptop = (AuthSessionFactory(user=user) for _ in range(3))
    assert client_with(phone.issued_access_token).post("/api/v1/auth/logout").status_code == 204
    assert client_with(phone.issued_access_token).get("/api/v1/me").status_code == 401
    assert refresh(phone.issued_refresh_token).json()["code"] == "refresh_token_invalid"
    assert client_with(tablet.issued_access_token).get("/api/v1/me").status_code == 200
    assert AuthSession.objects.get(pk=phone.pk).revoked_reason == AuthSession.RevokedReason.LOGOUT

    response = client_with(tablet.issued_access_token).post("/api/v1/auth/logout", {"all_devices": True},
                                                            format="json")
    assert response.status_code == 204
    for session in (tablet, laptop):
        assert client_with(session.issued_access_token).get("/api/v1/me").status_code == 401
        assert AuthSession.objects.get(pk=session.pk).revoked_reason == AuthSession.RevokedReason.LOGOUT_ALL
    assert not AuthSession.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_a_malformed_logout_is_a_400_and_logs_nobody_out():
    session = AuthSessionFactory()
    response = client_with(session.issued_access_token).post("/api/v1/auth/logout", {"all_devices": "perhaps"},
                                                             format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert client_with(session.issued_access_token).get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token short", "Token " + "é" * 43, "Bearer " + "x" * 43])
def test_malformed_authorization_headers_are_refused_or_ignored(header):
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    expected = "not_authenticated" if header.startswith("Bearer") else "authentication_failed"
    assert response.json()["code"] == expected


def test_the_purge_deletes_sessions_ended_long_ago_and_keeps_the_rest(settings):
    settings.AUTH_SESSION_RETENTION = timedelta(days=30)
    long_ago = timezone.now() - timedelta(days=31)
    live, expired, revoked, recently_revoked = (AuthSessionFactory() for _ in range(4))
    tokens.auth_session_refresh(refresh_token=revoked.issued_refresh_token)  # leaves a spent token behind
    AuthSession.objects.filter(pk=expired.pk).update(refresh_expires_at=long_ago)
    AuthSession.objects.filter(pk=revoked.pk).update(revoked_at=long_ago, revoked_reason="logout")
    AuthSession.objects.filter(pk=recently_revoked.pk).update(revoked_at=timezone.now(), revoked_reason="logout")
    assert tokens.auth_sessions_purge() == 2
    assert set(AuthSession.objects.values_list("pk", flat=True)) == {live.pk, recently_revoked.pk}
    assert not SpentRefreshToken.objects.exists()
    assert tokens.auth_sessions_purge() == 0
