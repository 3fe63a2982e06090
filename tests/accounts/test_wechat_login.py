"""WeChat mini-program login and phone authorisation against the local WeChat (tests/wechat_server.py): jscode2session
binds the openid to a user, errcodes become stable 4xx/503 codes, the phone number comes from
getuserphonenumber with an access token cached in Redis for every process."""
import socket

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import services
from accounts.models import AuthSession, User, WechatAccount
from core.models import BehaviourEvent
from tests.conftest import WECHAT_APPID
from tests.factories import AuthSessionFactory, UserFactory
from tests.helpers import race

pytestmark = pytest.mark.django_db


def wechat_login(code, client=None):
    return (client or APIClient()).post("/api/v1/auth/wechat/login", {"code": code}, format="json")


def bind_phone(access_token, code):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {access_token}")
    return client.post("/api/v1/auth/wechat/phone", {"code": code}, format="json")


def accounts_state() -> tuple:
    return (list(User.objects.order_by("pk").values("pk", "phone", "last_login")),
            list(WechatAccount.objects.order_by("pk").values()), AuthSession.objects.count(),
            BehaviourEvent.objects.count())


def test_a_first_wechat_login_creates_a_shopper_bound_to_the_openid(wechat):
    code = wechat.login_code(openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    response = wechat_login(code)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["created"] is True and body["user"]["role"] == "shopper" and body["user"]["phone"] == ""
    account = WechatAccount.objects.get(openid="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    assert (account.appid, account.user_id, account.unionid) == (WECHAT_APPID, body["user"]["id"], "")
    assert account.session_key and account.session_key not in response.content.decode()
    assert account.user.phone is None and not account.user.has_usable_password()
    assert set(BehaviourEvent.objects.filter(actor_id=account.user_id).values_list("kind", flat=True)) == {
        "user_registered", "wechat_bound", "user_logged_in"}
    assert AuthSession.objects.get(user=account.user).method == AuthSession.Method.WECHAT
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Token {body['access_token']}")
    assert me.get("/api/v1/me").json()["id"] == account.user_id
    assert wechat.requests == [("GET", "/sns/jscode2session")]


def test_a_returning_user_gets_their_account_and_a_second_session(wechat):
    first = wechat_login(wechat.login_code(openid="o-returning-user-0001")).json()
    old_key = WechatAccount.objects.get(openid="o-returning-user-0001").session_key
    second = wechat_login(wechat.login_code(openid="o-returning-user-0001"))
    assert second.status_code == 200
    assert second.json()["created"] is False and second.json()["user"]["id"] == first["user"]["id"]
    assert User.objects.count() == 1 and WechatAccount.objects.count() == 1
    assert WechatAccount.objects.get().session_key != old_key  # WeChat handed a new one
    assert AuthSession.objects.filter(user_id=first["user"]["id"], revoked_at__isnull=True).count() == 2


def test_a_unionid_known_from_another_app_of_the_platform_finds_that_user(wechat):
    user = UserFactory()
    WechatAccount.objects.create(user=user, appid="wx-official-account", openid="o-official", unionid="u-same-person")
    response = wechat_login(wechat.login_code(openid="o-miniprogram", unionid="u-same-person"))
    assert response.status_code == 200 and response.json()["created"] is False
    assert response.json()["user"]["id"] == user.pk
    assert WechatAccount.objects.get(appid=WECHAT_APPID).user == user
    assert BehaviourEvent.objects.get(kind="wechat_bound").payload == {"appid": WECHAT_APPID, "by_unionid": True}


def test_a_unionid_whose_user_is_bound_in_this_app_already_does_not_take_that_account(wechat):
    user = UserFactory()
    WechatAccount.objects.create(user=user, appid=WECHAT_APPID, openid="o-first", unionid="u-shared")
    response = wechat_login(wechat.login_code(openid="o-second", unionid="u-shared"))
    assert response.status_code == 200 and response.json()["created"] is True
    assert response.json()["user"]["id"] != user.pk
    assert WechatAccount.objects.get(openid="o-first").user == user


@pytest.mark.parametrize(("arrange", "status", "code"), [
    ("unknown code", 400, "wechat_code_invalid"),
    ("used code", 400, "wechat_code_invalid"),
    ("busy", 503, "wechat_busy"),
    ("rate limited", 429, "wechat_rate_limited"),
    ("risky user", 403, "wechat_login_blocked"),
    ("wrong secret", 503, "wechat_unavailable"),
])
def test_wechat_refusals_are_clear_errors_and_create_nothing(wechat, settings, arrange, status, code):
    login_code = wechat.login_code()
    if arrange == "unknown code":
        login_code = "0" * 32
    elif arrange == "used code":
        wechat_login(login_code)
        User.objects.all().delete()
    elif arrange == "busy":
        wechat.queued_errcodes.append(-1)
    elif arrange == "rate limited":
        wechat.queued_errcodes.append(45011)
    elif arrange == "risky user":
        wechat.queued_errcodes.append(40226)
    else:
        settings.WECHAT_MINIPROGRAM_SECRET = "not-the-secret"
    before = accounts_state()
    response = wechat_login(login_code)
    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    assert set(response.json()) == {"code", "message", "detail"}
    if status == 429:
        assert response["Retry-After"] == "60"
    assert accounts_state() == before


def test_wechat_out_of_reach_is_a_503_with_a_short_timeout(wechat, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.WECHAT_API_BASE_URL = f"http://127.0.0.1:{closed_port}"
    before = accounts_state()
    response = wechat_login(wechat.login_code())
    assert (response.status_code, response.json()["code"]) == (503, "wechat_unavailable")
    assert accounts_state() == before


def test_without_appid_and_secret_wechat_login_is_off(settings):
    settings.WECHAT_MINIPROGRAM_APPID = ""
    response = wechat_login("a-code-from-wx-login")
    assert (response.status_code, response.json()["code"]) == (404, "wechat_login_disabled")
    assert not User.objects.exists()


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": None}, {"code": "a b"}, {"code": "x" * 129},
                                  {"code": ["abc"]}, [], "code"])
def test_a_malformed_code_is_a_400_and_wechat_is_not_asked(wechat, body):
    response = APIClient().post("/api/v1/auth/wechat/login", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert wechat.requests == [] and not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_logins_of_one_person_at_once_make_one_account(wechat):
    codes = [wechat.login_code(openid="o-double-tap") for _ in range(2)]
    results, errors = race(2, lambda index: services.wechat_login(code=codes[index]))
    assert errors == [], errors
    assert len({result.user.pk for result in results}) == 1
    assert User.objects.count() == 1 and WechatAccount.objects.count() == 1


# --- phone number authorisation ---------------------------------------------------------------------------------
def test_the_authorised_phone_becomes_the_users_and_the_access_token_is_shared_through_redis(wechat):
    first = wechat_login(wechat.login_code()).json()
    response = bind_phone(first["access_token"], wechat.phone_code("13912345678"))
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "139****5678"
    assert User.objects.get(pk=first["user"]["id"]).phone == "13912345678"
    event = BehaviourEvent.objects.get(kind="phone_bound")
    assert (event.actor_id, event.payload) == (first["user"]["id"], {"method": "wechat", "replaced": False})
    assert wechat.token_fetches == 1
    assert cache.get(f"wechat:access_token:{WECHAT_APPID}") == wechat.current_access_token

    second = wechat_login(wechat.login_code()).json()
    assert bind_phone(second["access_token"], wechat.phone_code("13987654321")).status_code == 200
    assert wechat.token_fetches == 1  # the cached token served the second call
    assert [path for _method, path in wechat.requests].count("/cgi-bin/stable_token") == 1


def test_the_cached_access_token_is_cached_until_shortly_before_wechats_expiry(wechat, settings):
    settings.WECHAT_ACCESS_TOKEN_MARGIN_SECONDS = 300
    user = wechat_login(wechat.login_code()).json()
    assert bind_phone(user["access_token"], wechat.phone_code("13912345678")).status_code == 200
    key = cache.make_key(f"wechat:access_token:{WECHAT_APPID}")
    ttl = cache._cache.get_client().ttl(key)
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300


def test_an_access_token_wechat_says_has_expired_is_fetched_again_and_the_call_retried(wechat):
    user = wechat_login(wechat.login_code()).json()
    assert bind_phone(user["access_token"], wechat.phone_code("13912345678")).status_code == 200
    stale = wechat.current_access_token
    wechat.access_tokens_expire()  # WeChat's clock says expired; our cache still holds it
    other = wechat_login(wechat.login_code()).json()
    response = bind_phone(other["access_token"], wechat.phone_code("13987654321"))
    assert response.status_code == 200, response.json()
    assert wechat.token_fetches == 2 and wechat.current_access_token != stale
    assert cache.get(f"wechat:access_token:{WECHAT_APPID}") == wechat.current_access_token


def test_a_phone_held_by_another_account_is_refused_and_nothing_changes(wechat):
    UserFactory(phone="13912345678")
    user = wechat_login(wechat.login_code()).json()
    before = accounts_state()
    response = bind_phone(user["access_token"], wechat.phone_code("13912345678"))
    assert (response.status_code, response.json()["code"]) == (409, "phone_taken")
    assert accounts_state() == before


@pytest.mark.parametrize(("phone", "country_code", "status", "code"), [
    ("6502530000", "1", 400, "phone_not_supported"),
    ("1391234567", "86", 400, "phone_not_supported"),
])
def test_a_number_that_is_not_a_mainland_mobile_is_refused(wechat, phone, country_code, status, code):
    user = wechat_login(wechat.login_code()).json()
    before = accounts_state()
    response = bind_phone(user["access_token"], wechat.phone_code(phone, country_code=country_code))
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert accounts_state() == before


def test_a_bad_phone_code_or_a_busy_wechat_changes_nothing(wechat):
    user = wechat_login(wechat.login_code()).json()
    before = accounts_state()
    response = bind_phone(user["access_token"], "0" * 32)
    assert (response.status_code, response.json()["code"]) == (400, "wechat_code_invalid")
    wechat.queued_errcodes.append(-1)
    response = bind_phone(user["access_token"], wechat.phone_code("13912345678"))
    assert (response.status_code, response.json()["code"]) == (503, "wechat_busy")
    assert accounts_state() == before


def test_binding_the_phone_needs_a_login(wechat):
    response = APIClient().post("/api/v1/auth/wechat/phone", {"code": wechat.phone_code("13912345678")},
                                format="json")
    assert response.status_code == 401
    assert not [path for _method, path in wechat.requests if path.startswith("/wxa/")]


def test_an_sms_user_may_authorise_the_same_phone_again(wechat):
    session = AuthSessionFactory(user=UserFactory(phone="13912345678"))
    response = bind_phone(session.issued_access_token, wechat.phone_code("13912345678"))
    assert response.status_code == 200 and response.json()["phone"] == "139****5678"
    assert not BehaviourEvent.objects.filter(kind="phone_bound").exists()
