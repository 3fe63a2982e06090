"""Account reads that other code relies on: the session behind an access token, a user's WeChat openid."""
from accounts.models import AuthSession, User, WechatAccount
from accounts.tokens import token_hash


def auth_session_by_access_token(*, token: str) -> AuthSession | None:
    """The live-or-not session whose access token this is, with its user: one indexed lookup (unique hash), no
    write. The caller checks expiry and revocation, to tell an expired token from an unknown one."""
    return AuthSession.objects.select_related("user").filter(access_hash=token_hash(token)).first()


def wechat_openid(*, user: User, appid: str) -> str | None:
    """The user's openid in the WeChat app `appid` (bound at WeChat login), or None."""
    if not appid or user is None or user.pk is None:
        return None
    return WechatAccount.objects.filter(user=user, appid=appid).values_list("openid", flat=True).first()
