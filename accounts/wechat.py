"""The WeChat mini-program server API (api.weixin.qq.com) behind one adapter, configured by
WECHAT_MINIPROGRAM_APPID / WECHAT_MINIPROGRAM_SECRET and WECHAT_API_BASE_URL (the tests point it at a local server
that speaks the same protocol).

- `code_to_session`: GET /sns/jscode2session, the code of `wx.login()` -> openid (+ unionid) and session_key;
- `phone_number`: POST /wxa/business/getuserphonenumber, the code of the phone-number button -> the phone;
- `access_token`: the interface access token that call needs, from POST /cgi-bin/stable_token, cached in Redis
  (Django's cache) for every process until WECHAT_ACCESS_TOKEN_MARGIN_SECONDS before WeChat's expiry, fetched again
  when WeChat answers 40001/42001/40014. The stable token (not /cgi-bin/token) because fetching it again in normal
  mode returns the same token: processes that miss the cache at once do not invalidate each other's.

Every call is a plain HTTPS request with a short timeout, never made inside a database transaction (the services
call the adapter first, then open their transaction). WeChat's errcodes become domain errors with stable codes:
40029/40163 `wechat_code_invalid` (400), 40226 `wechat_login_blocked` (403), 45011 `wechat_rate_limited` (429),
-1 `wechat_busy` (503); an unreachable WeChat or an answer we cannot read is `wechat_unavailable` (503).
"""
import logging
import re
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from core.errors import DomainError, NotFound, PermissionDenied, ServiceUnavailable, TooManyRequests, ValidationFailed

logger = logging.getLogger(__name__)

ERRCODE_BUSY = -1
ERRCODE_INVALID_CODE = 40029
ERRCODE_CODE_USED = 40163
ERRCODE_RISKY_USER = 40226
ERRCODE_RATE_LIMITED = 45011
# The access token is invalid (40001, 40014) or expired (42001): fetch a new one and try once more.
ERRCODES_ACCESS_TOKEN = frozenset({40001, 40014, 42001})

IDENTIFIER = re.compile(r"[A-Za-z0-9_\-]{1,64}")
RATE_LIMIT_RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True)
class WechatSession:
    openid: str
    unionid: str
    session_key: str


@dataclass(frozen=True)
class WechatPhone:
    phone_number: str  # with the country code for numbers outside the mainland
    pure_phone_number: str
    country_code: str


class MiniProgram:
    def __init__(self, *, appid: str, secret: str, base_url: str, timeout: float, token_margin_seconds: int):
        self.appid, self.secret = appid, secret
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.token_margin_seconds = token_margin_seconds

    @classmethod
    def from_settings(cls) -> "MiniProgram":
        """The configured mini-program; NotFound (`wechat_login_disabled`) when AppID or secret is not set."""
        if not (settings.WECHAT_MINIPROGRAM_APPID and settings.WECHAT_MINIPROGRAM_SECRET):
            raise NotFound(_("WeChat login is not enabled"), code="wechat_login_disabled")
        return cls(appid=settings.WECHAT_MINIPROGRAM_APPID, secret=settings.WECHAT_MINIPROGRAM_SECRET,
                   base_url=settings.WECHAT_API_BASE_URL, timeout=settings.WECHAT_TIMEOUT_SECONDS,
                   token_margin_seconds=settings.WECHAT_ACCESS_TOKEN_MARGIN_SECONDS)

    # --- calls ----------------------------------------------------------------------------------------------------
    def code_to_session(self, *, code: str) -> WechatSession:
        data = self._call("GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"})
        self._raise_for_errcode(data, call="jscode2session")
        openid, unionid = data.get("openid"), data.get("unionid") or ""
        session_key = data.get("session_key") or ""
        if not (isinstance(openid, str) and IDENTIFIER.fullmatch(openid)) or not isinstance(session_key, str) or (
                unionid and not (isinstance(unionid, str) and IDENTIFIER.fullmatch(unionid))):
            raise self._unreadable("jscode2session", data)
        return WechatSession(openid=openid, unionid=unionid, session_key=session_key[:64])

    def phone_number(self, *, code: str) -> WechatPhone:
        data: dict[str, Any] = {}
        for attempt in range(2):
            token = self.access_token(refresh=attempt > 0)
            data = self._call("POST", "/wxa/business/getuserphonenumber", params={"access_token": token},
                              json={"code": code})
            if data.get("errcode") not in ERRCODES_ACCESS_TOKEN:
                break
            logger.warning("WeChat refused our access token (errcode %s): fetching a new one", data.get("errcode"))
            self._forget_access_token(token)
        self._raise_for_errcode(data, call="getuserphonenumber")
        info = data.get("phone_info")
        if not isinstance(info, dict) or not all(isinstance(info.get(key), str) for key in (
                "phoneNumber", "purePhoneNumber", "countryCode")):
            raise self._unreadable("getuserphonenumber", data)
        return WechatPhone(phone_number=info["phoneNumber"], pure_phone_number=info["purePhoneNumber"],
                           country_code=info["countryCode"])

    def access_token(self, *, refresh: bool = False) -> str:
        """The interface access token, from the shared cache unless `refresh` (WeChat refused the cached one)."""
        key = self._access_token_key()
        if not refresh:
            cached = self._cache_call(cache.get, key)
            if cached:
                return cached
        data = self._call("POST", "/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret, "force_refresh": False})
        self._raise_for_errcode(data, call="stable_token")
        token, expires_in = data.get("access_token"), data.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int):
            raise self._unreadable("stable_token", data)
        lifetime = expires_in - self.token_margin_seconds
        if lifetime > 0:
            self._cache_call(cache.set, key, token, timeout=lifetime)
        return token

    # --- plumbing -------------------------------------------------------------------------------------------------
    def _access_token_key(self) -> str:
        return f"wechat:access_token:{self.appid}"

    def _forget_access_token(self, token: str) -> None:
        key = self._access_token_key()
        if self._cache_call(cache.get, key) == token:
            self._cache_call(cache.delete, key)

    def _cache_call(self, method, *args, **kwargs):
        """The cache is an optimisation: with Redis down we fetch a token per call rather than fail the login."""
        try:
            return method(*args, **kwargs)
        except RedisError as error:
            logger.warning("cache unavailable for the WeChat access token: %s", error)
            return None

    def _call(self, method: str, path: str, *, params: dict | None = None, json: dict | None = None) -> dict:
        try:
            response = requests.request(method, f"{self.base_url}{path}", params=params, json=json,
                                        timeout=self.timeout)
            # jscode2session answers JSON as text/plain: read the body whatever the content type says.
            data = response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError) as error:
            logger.warning("WeChat %s failed: %s", path, type(error).__name__)
            raise ServiceUnavailable(_("WeChat cannot be reached; try again shortly"),
                                     code="wechat_unavailable") from error
        if not isinstance(data, dict):
            raise self._unreadable(path, {"status": response.status_code})
        return data

    def _unreadable(self, call: str, data: Any) -> DomainError:
        logger.error("WeChat %s answered something we cannot read: %r", call, str(data)[:300])
        return ServiceUnavailable(_("WeChat cannot be reached; try again shortly"), code="wechat_unavailable")

    def _raise_for_errcode(self, data: dict, *, call: str) -> None:
        errcode = data.get("errcode", 0)
        if errcode in (0, None):
            return
        detail = {"errcode": errcode}
        if errcode in (ERRCODE_INVALID_CODE, ERRCODE_CODE_USED):
            raise ValidationFailed(_("the WeChat code is invalid or was already used; get a new one"),
                                   code="wechat_code_invalid", detail=detail)
        if errcode == ERRCODE_RISKY_USER:
            raise PermissionDenied(_("WeChat blocked this login as risky"), code="wechat_login_blocked",
                                   detail=detail)
        if errcode == ERRCODE_RATE_LIMITED:
            raise TooManyRequests(_("too many WeChat requests; try again in a minute"), code="wechat_rate_limited",
                                  detail=detail, retry_after=RATE_LIMIT_RETRY_AFTER_SECONDS)
        if errcode == ERRCODE_BUSY:
            raise ServiceUnavailable(_("WeChat is busy; try again shortly"), code="wechat_busy", detail=detail)
        # Anything else (40013 invalid AppID, 40125 invalid secret, 40164 address not allowed...) is ours to fix.
        logger.error("WeChat %s refused us: errcode %s, %s", call, errcode, str(data.get("errmsg", ""))[:200])
        raise ServiceUnavailable(_("WeChat cannot be reached; try again shortly"), code="wechat_unavailable",
                                 detail=detail)
