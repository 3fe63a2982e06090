"""Account writes: sending login codes, logging in with them or with WeChat, phone authorisation, logout, profile
changes, the demo operator. Tokens are issued and refreshed by accounts/tokens.py."""
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuthSession, LoginCode, Role, User, WechatAccount
from accounts.sms import sms_send
from accounts.tokens import TokenPair, auth_session_revoke, auth_session_start, auth_sessions_revoke_for_user
from accounts.wechat import MiniProgram
from core.errors import Conflict, PermissionDenied, TooManyRequests, ValidationFailed
from core.events import record_event

PHONE_PATTERN = re.compile(r"^1[3-9]\d{9}$")
CODE_DIGITS = 6


def phone_normalize(raw: str) -> str:
    """'+86 138-0013-8000' -> '13800138000'. Raises ValidationFailed for anything that is not a mainland mobile."""
    phone = re.sub(r"[\s\-()]", "", raw or "")
    for prefix in ("+86", "0086", "86"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            phone = phone[len(prefix):]
    if not PHONE_PATTERN.match(phone):
        raise ValidationFailed(
            _("enter a valid 11-digit mainland mobile number"),
            code="invalid_phone", detail={"phone": raw},
        )
    return phone


def _code_hash(phone: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _lock_phone(phone: str) -> None:
    """Serialise code sends and checks per phone number for the rest of the transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"login:{phone}"])


@dataclass(frozen=True)
class LoginCodeSent:
    phone: str
    expires_in_seconds: int
    resend_after_seconds: int


def login_code_send(*, phone: str, client_ip: str | None = None) -> LoginCodeSent:
    phone = phone_normalize(phone)
    now = timezone.now()
    resend_interval = settings.LOGIN_CODE_RESEND_INTERVAL
    with transaction.atomic():
        _lock_phone(phone)
        recent = LoginCode.objects.filter(phone=phone, created_at__gte=now - timedelta(days=1))
        latest = recent.order_by("-created_at").first()
        if latest is not None and latest.created_at > now - resend_interval:
            wait = int((latest.created_at + resend_interval - now).total_seconds()) + 1
            raise TooManyRequests(_("code already sent; retry in %(seconds)ss") % {"seconds": wait},
                                  code="code_resend_too_soon", detail={"retry_after_seconds": wait}, retry_after=wait)
        if recent.count() >= settings.LOGIN_CODE_DAILY_LIMIT:
            raise TooManyRequests(_("daily limit of login codes reached"),
                                  code="code_daily_limit", retry_after=24 * 3600)
        # A new code supersedes every older one.
        LoginCode.objects.filter(phone=phone, consumed_at__isnull=True).update(consumed_at=now)
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        LoginCode.objects.create(phone=phone, code_hash=_code_hash(phone, code),
                                 expires_at=now + settings.LOGIN_CODE_TTL, client_ip=client_ip)
        minutes = int(settings.LOGIN_CODE_TTL.total_seconds() // 60)
        message = f"【智能名片商城】验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。Your login code is {code}."
        transaction.on_commit(partial(sms_send, phone=phone, message=message))
    return LoginCodeSent(phone=phone, expires_in_seconds=int(settings.LOGIN_CODE_TTL.total_seconds()),
                         resend_after_seconds=int(resend_interval.total_seconds()))


@dataclass(frozen=True)
class LoginResult:
    user: User
    tokens: TokenPair
    created: bool


def login_with_code(*, phone: str, code: str, client: str = "") -> LoginResult:
    """Check the code (one use, expiry, attempt limit); create the shopper on first login; start a session (a new
    token pair, for this device; the user's other sessions go on).

    A wrong code counts as an attempt even though the call fails: the attempt is committed before the error is
    raised, so guessing cannot be retried for free.
    """
    phone = phone_normalize(phone)
    now = timezone.now()
    with transaction.atomic():
        _lock_phone(phone)
        login_code = (LoginCode.objects.select_for_update()
                      .filter(phone=phone, consumed_at__isnull=True).order_by("-created_at").first())
        if login_code is None:
            outcome = "no_code"
        elif login_code.expires_at <= now:
            outcome = "expired"
        elif login_code.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
            outcome = "attempts_exceeded"
        elif not hmac.compare_digest(login_code.code_hash, _code_hash(phone, (code or "").strip())):
            login_code.attempts += 1
            if login_code.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
                login_code.consumed_at = now  # burnt: a new code must be requested
                outcome = "attempts_exceeded"
            else:
                outcome = "wrong"
            login_code.save(update_fields=["attempts", "consumed_at", "updated_at"])
        else:
            login_code.consumed_at = now
            login_code.save(update_fields=["consumed_at", "updated_at"])
            outcome = "ok"
        if outcome == "ok":
            user, created = User.objects.get_or_create(phone=phone, defaults={"role": Role.SHOPPER})
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
                record_event(kind="user_registered", actor=user, target=user)
            if not user.is_active:
                raise PermissionDenied(_("this account is disabled"), code="account_disabled")
            User.objects.filter(pk=user.pk).update(last_login=now)
            tokens = auth_session_start(user=user, method=AuthSession.Method.SMS_CODE, client=client)
            record_event(kind="user_logged_in", actor=user, target=user, payload={"method": "sms_code"})
    if outcome == "ok":
        return LoginResult(user=user, tokens=tokens, created=created)
    if outcome == "no_code":
        raise ValidationFailed(_("request a login code first"), code="code_not_requested")
    if outcome == "expired":
        raise ValidationFailed(_("the code has expired; request a new one"),
                               code="code_expired")
    if outcome == "attempts_exceeded":
        raise TooManyRequests(_("too many wrong codes; request a new one"),
                              code="code_attempts_exceeded")
    remaining = settings.LOGIN_CODE_MAX_ATTEMPTS - login_code.attempts
    raise ValidationFailed(_("wrong code; %(left)s attempts left") % {"left": remaining},
                           code="code_invalid", detail={"attempts_left": remaining})


def logout(*, user: User, session: AuthSession | None, everywhere: bool = False) -> int:
    """End the session the request came with (this device), or every session of the user. Returns how many ended."""
    if everywhere or session is None:
        # A caller authenticated otherwise (a staff browser session) has no token session of its own: logging out
        # of the API then means all of them.
        return auth_sessions_revoke_for_user(user=user)
    return int(auth_session_revoke(session_id=session.pk))


# --- WeChat mini-program ----------------------------------------------------------------------------------------
def wechat_login(*, code: str, client: str = "") -> LoginResult:
    """Log in with the code of `wx.login()`: WeChat says whose it is (jscode2session, called before any
    transaction), the openid is bound to a user (found by openid, else by unionid from another app of the same
    WeChat open platform account, else a new shopper without a phone), and a session starts.

    Two first logins of one person at once both try to create the binding: the unique (appid, openid) lets one
    win, the other runs again and finds it."""
    mini_program = MiniProgram.from_settings()
    identity = mini_program.code_to_session(code=code)
    try:
        with transaction.atomic():
            return _wechat_login_apply(mini_program.appid, identity, client=client)
    except IntegrityError:
        # A concurrent first login of the same person created the binding meanwhile: this time it is found.
        with transaction.atomic():
            return _wechat_login_apply(mini_program.appid, identity, client=client)


def _wechat_login_apply(appid: str, identity, *, client: str) -> LoginResult:
    now = timezone.now()
    account = (WechatAccount.objects.select_for_update(of=("self",)).select_related("user")
               .filter(appid=appid, openid=identity.openid).first())
    created = False
    if account is None:
        user, by_unionid = None, False
        if identity.unionid:
            # A user already bound in this app under another openid is not that person (one openid per app).
            user = (User.objects.filter(wechat_accounts__unionid=identity.unionid)
                    .exclude(wechat_accounts__appid=appid).order_by("pk").first())
            by_unionid = user is not None
        if user is None:
            user = User.objects.create_user(None, role=Role.SHOPPER)
            created = True
            record_event(kind="user_registered", actor=user, target=user)
        account = WechatAccount.objects.create(user=user, appid=appid, openid=identity.openid,
                                               unionid=identity.unionid, session_key=identity.session_key,
                                               last_login_at=now)
        record_event(kind="wechat_bound", actor=user, target=account,
                     payload={"appid": appid, "by_unionid": by_unionid})
    else:
        user = account.user
        WechatAccount.objects.filter(pk=account.pk).update(
            session_key=identity.session_key, unionid=identity.unionid or account.unionid, last_login_at=now,
            updated_at=now)
    if not user.is_active:
        raise PermissionDenied(_("this account is disabled"), code="account_disabled")
    User.objects.filter(pk=user.pk).update(last_login=now)
    tokens = auth_session_start(user=user, method=AuthSession.Method.WECHAT, client=client)
    record_event(kind="user_logged_in", actor=user, target=user, payload={"method": "wechat"})
    return LoginResult(user=user, tokens=tokens, created=created)


def wechat_phone_bind(*, user: User, code: str) -> User:
    """Make the phone number the user authorised in WeChat (the phone-number button's code, exchanged with
    getuserphonenumber before any transaction) their phone. Only mainland mobiles, like every login here.

    A number that belongs to another account is refused (`phone_taken`, 409) and nothing changes: accounts are
    never merged here, because this app cannot see what each account holds (orders, points...) and a merge is not
    undoable. The owner of that number logs in with an SMS code instead."""
    phone_info = MiniProgram.from_settings().phone_number(code=code)
    if phone_info.country_code != "86":
        raise ValidationFailed(_("only mainland China mobile numbers can be used"), code="phone_not_supported",
                               detail={"country_code": phone_info.country_code})
    try:
        phone = phone_normalize(phone_info.pure_phone_number)
    except ValidationFailed as error:
        raise ValidationFailed(_("only mainland China mobile numbers can be used"),
                               code="phone_not_supported") from error
    taken = Conflict(_("this phone number belongs to another account; log in with it by SMS code"),
                     code="phone_taken")
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.phone == phone:
            return locked
        if User.objects.filter(phone=phone).exists():
            raise taken
        try:
            with transaction.atomic():
                User.objects.filter(pk=user.pk).update(phone=phone)
        except IntegrityError as error:  # taken meanwhile by a concurrent login or binding
            raise taken from error
        record_event(kind="phone_bound", actor=locked, target=locked,
                     payload={"method": "wechat", "replaced": bool(locked.phone)})
        locked.phone = phone
    return locked


def user_update_profile(*, user: User, nickname: str | None = None, avatar_url: str | None = None) -> User:
    fields = []
    if nickname is not None:
        user.nickname = nickname.strip()
        fields.append("nickname")
    if avatar_url is not None:
        user.avatar_url = avatar_url
        fields.append("avatar_url")
    if fields:
        with transaction.atomic():
            user.save(update_fields=fields)
            record_event(kind="profile_updated", actor=user, target=user, payload={"fields": fields})
    return user


def operator_ensure(*, phone: str, password: str, nickname: str = "") -> tuple[User, bool]:
    """Create (or reset the password of) an operator who may log into /admin/."""
    phone = phone_normalize(phone)
    with transaction.atomic():
        user, created = User.objects.get_or_create(
            phone=phone, defaults={"role": Role.OPERATOR, "is_staff": True, "is_superuser": True,
                                   "nickname": nickname},
        )
        user.role, user.is_staff, user.is_superuser, user.is_active = Role.OPERATOR, True, True, True
        user.set_password(password)
        user.save()
    return user, created
