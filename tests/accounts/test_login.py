import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import LoginCode, User
from accounts.sms import MemorySmsBackend
from core.models import BehaviourEvent

pytestmark = pytest.mark.django_db

PHONE = "13800138000"


def send_code(client, phone=PHONE, **extra):
    return client.post("/api/v1/auth/code", {"phone": phone}, format="json", **extra)


def last_code_sent() -> str:
    _phone, message = MemorySmsBackend.outbox[-1]
    return re.search(r"\b(\d{6})\b", message).group(1)


def login(client, code, phone=PHONE):
    return client.post("/api/v1/auth/login", {"phone": phone, "code": code}, format="json")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_first_login_creates_a_shopper_and_returns_a_working_token(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send_code(api_client, phone="+86 138-0013-8000")
    assert response.status_code == 202
    assert response.json()["phone"] == PHONE
    assert MemorySmsBackend.outbox[-1][0] == PHONE
    assert LoginCode.objects.get(phone=PHONE).code_hash != last_code_sent()  # only a hash is stored

    response = login(api_client, last_code_sent())
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] is True and body["user"]["role"] == "shopper"
    assert body["user"]["phone"] == "138****8000"
    user = User.objects.get(phone=PHONE)
    assert not user.has_usable_password()
    assert set(BehaviourEvent.objects.filter(actor=user).values_list("kind", flat=True)) == {
        "user_registered", "user_logged_in"}

    assert body["token_type"] == "Token" and body["expires_in"] == 7200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['access_token']}")
    me = api_client.patch("/api/v1/me", {"nickname": "小明"}, format="json")
    assert me.status_code == 200 and me.json()["nickname"] == "小明"

    # the code is used up
    again = login(api_client, last_code_sent())
    assert again.status_code == 400 and again.json()["code"] == "code_not_requested"

    assert api_client.post("/api/v1/auth/logout").status_code == 204
    assert api_client.get("/api/v1/me").json()["code"] == "authentication_failed"


def test_a_wrong_code_is_refused_and_counted(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_code(api_client)
    response = login(api_client, wrong(last_code_sent()))
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"
    assert response.json()["detail"] == {"attempts_left": 4}
    assert LoginCode.objects.get(phone=PHONE).attempts == 1
    assert not User.objects.filter(phone=PHONE).exists()


def test_an_expired_code_is_refused(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_code(api_client)
    LoginCode.objects.filter(phone=PHONE).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = login(api_client, last_code_sent())
    assert response.status_code == 400
    assert response.json()["code"] == "code_expired"
    assert not User.objects.filter(phone=PHONE).exists()


def test_five_wrong_codes_burn_the_code_even_the_right_one_fails_after(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        send_code(api_client)
    code = last_code_sent()
    codes = [login(api_client, wrong(code)).json()["code"] for _ in range(5)]
    assert codes == ["code_invalid"] * 4 + ["code_attempts_exceeded"]
    response = login(api_client, code)
    assert response.status_code == 400 and response.json()["code"] == "code_not_requested"
    assert not User.objects.filter(phone=PHONE).exists()


def test_a_code_cannot_be_resent_within_the_interval(api_client):
    assert send_code(api_client).status_code == 202
    response = send_code(api_client)
    assert response.status_code == 429
    assert response.json()["code"] == "code_resend_too_soon"
    assert int(response["Retry-After"]) > 0
    assert LoginCode.objects.filter(phone=PHONE).count() == 1


def test_repeated_login_attempts_are_throttled(api_client):
    statuses = [login(api_client, "123456", phone=f"1390000{i:04d}").status_code for i in range(12)]
    assert statuses[:10] == [400] * 10  # no code requested: refused, but not throttled yet
    assert statuses[10:] == [429, 429]
    response = login(api_client, "123456")
    assert response.json()["code"] == "throttled"
    assert "retry_after_seconds" in response.json()["detail"]


def test_the_same_phone_is_throttled_across_addresses(api_client):
    for i in range(5):
        # each request from another address: only the per-phone limit can stop them
        send_code(api_client, REMOTE_ADDR=f"10.0.0.{i}")
        LoginCode.objects.filter(phone=PHONE).update(created_at=timezone.now() - timedelta(minutes=5))
    response = send_code(api_client, REMOTE_ADDR="10.0.0.99")
    assert response.status_code == 429 and response.json()["code"] == "throttled"


@pytest.mark.parametrize("body", [
    {}, {"phone": "12345"}, {"phone": ["13800138000"]}, {"phone": None}, {"phone": "1380013800a"},
])
def test_malformed_phone_numbers_get_a_clear_400(api_client, body):
    response = api_client.post("/api/v1/auth/code", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "phone" in response.json()["detail"]
    assert LoginCode.objects.count() == 0


@pytest.mark.parametrize("code", ["", "abc", "1234567890", None, 123456])
def test_malformed_codes_get_a_clear_400(api_client, code):
    response = api_client.post("/api/v1/auth/login", {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in {"invalid", "code_not_requested"}


def test_malformed_json_body_is_a_400_not_a_500(api_client):
    response = api_client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_a_disabled_account_cannot_log_in(api_client, django_capture_on_commit_callbacks):
    User.objects.create_user(PHONE, is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        send_code(api_client)
    response = login(api_client, last_code_sent())
    assert response.status_code == 403 and response.json()["code"] == "account_disabled"


def test_operator_logs_into_admin_with_phone_and_password(client):
    from accounts.services import operator_ensure

    operator_ensure(phone="13800000000", password="s3cret-pass-1")
    assert client.login(phone="13800000000", password="s3cret-pass-1")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/core/behaviourevent/").status_code == 200
