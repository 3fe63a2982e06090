from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from core.models import TimeStampedModel


class Role(models.TextChoices):
    SHOPPER = "shopper", "消费者 shopper"
    MERCHANT_STAFF = "merchant_staff", "商家员工 merchant staff"
    SUPPLIER_STAFF = "supplier_staff", "供应商员工 supplier staff"
    OPERATOR = "operator", "平台运营 operator"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, phone: str | None, password: str | None = None, **fields):
        """`phone` may be None only for a shopper who logged in with WeChat and has not authorised a phone yet."""
        if not phone and fields.get("role", Role.SHOPPER) != Role.SHOPPER:
            raise ValueError("phone is required")
        user = self.model(phone=phone or None, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()  # shoppers log in with one-time codes, not passwords
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **fields):
        if not phone:
            raise ValueError("phone is required")
        fields.update(is_staff=True, is_superuser=True, role=Role.OPERATOR)
        return self.create_user(phone, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in. The phone number (mainland China mobile, 11 digits) is the login; a shopper who came
    in through WeChat has none until they authorise one (POST /api/v1/auth/wechat/phone)."""

    phone = models.CharField("手机号 phone", max_length=20, unique=True, null=True, blank=True)
    nickname = models.CharField("昵称 nickname", max_length=64, blank=True, default="")
    avatar_url = models.URLField("头像 avatar URL", max_length=500, blank=True, default="")
    role = models.CharField("角色 role", max_length=20, choices=Role.choices, default=Role.SHOPPER)
    is_active = models.BooleanField("启用 active", default=True)
    is_staff = models.BooleanField("可登录后台 staff", default=False)
    date_joined = models.DateTimeField("注册时间 joined", default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "用户 user"
        verbose_name_plural = "用户 users"
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_known"),
            models.CheckConstraint(condition=models.Q(phone__isnull=False) | models.Q(role=Role.SHOPPER),
                                   name="user_phone_unless_shopper"),
        ]

    def __str__(self) -> str:
        return self.nickname or self.masked_phone or f"用户 user {self.pk}"

    @property
    def masked_phone(self) -> str:
        """'138****8000'; empty when the user has no phone yet."""
        phone = self.phone or ""
        return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else phone


class LoginCode(TimeStampedModel):
    """A one-time login code sent by SMS. Only its keyed hash is stored."""

    phone = models.CharField(max_length=20, verbose_name="手机号 phone")
    code_hash = models.CharField(max_length=64, verbose_name="验证码摘要 code hash")
    expires_at = models.DateTimeField(verbose_name="过期时间 expires at")
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name="尝试次数 attempts")
    consumed_at = models.DateTimeField(null=True, blank=True, verbose_name="使用时间 used at")
    client_ip = models.GenericIPAddressField(null=True, blank=True, verbose_name="客户端 IP client IP")

    class Meta:
        verbose_name = "登录验证码 login code"
        verbose_name_plural = "登录验证码 login codes"
        indexes = [models.Index(fields=["phone", "created_at"], name="login_code_phone_time_idx")]

    def __str__(self) -> str:
        return f"{self.phone} @ {self.created_at:%Y-%m-%d %H:%M}"


class AuthSession(TimeStampedModel):
    """One login on one device: the pair of API tokens it holds now, stored only as SHA-256 hashes.

    The access token is short-lived and sent on every request; the refresh token buys a new pair
    (`accounts.tokens.auth_session_refresh`), which replaces both hashes, so the old pair stops working. Every refresh
    token a session has spent is kept as a `SpentRefreshToken`: one presented again (stolen, or replayed) revokes the
    session. Logging out revokes it; ended sessions are purged after AUTH_SESSION_RETENTION."""

    class Method(models.TextChoices):
        SMS_CODE = "sms_code", "短信验证码 SMS code"
        WECHAT = "wechat", "微信小程序 WeChat mini-program"
        OTHER = "other", "其他 other"

    class RevokedReason(models.TextChoices):
        LOGOUT = "logout", "退出登录 logged out"
        LOGOUT_ALL = "logout_all", "退出所有设备 logged out everywhere"
        REFRESH_REUSED = "refresh_reused", "刷新令牌被重复使用 refresh token reused"
        OPERATOR = "operator", "运营撤销 revoked by an operator"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions", verbose_name="用户 user")
    method = models.CharField("登录方式 login method", max_length=16, choices=Method.choices)
    client = models.CharField("客户端 client", max_length=200, blank=True, default="")
    access_hash = models.CharField("访问令牌摘要 access token hash", max_length=64, unique=True)
    access_expires_at = models.DateTimeField("访问令牌过期 access token expires")
    refresh_hash = models.CharField("刷新令牌摘要 refresh token hash", max_length=64, unique=True)
    refresh_expires_at = models.DateTimeField("刷新令牌过期 refresh token expires", db_index=True)
    refresh_count = models.PositiveIntegerField("刷新次数 refreshes", default=0)
    refreshed_at = models.DateTimeField("最近刷新 last refreshed", null=True, blank=True)
    revoked_at = models.DateTimeField("撤销时间 revoked at", null=True, blank=True)
    revoked_reason = models.CharField("撤销原因 revoked because", max_length=16, choices=RevokedReason.choices,
                                      blank=True, default="")

    class Meta:
        verbose_name = "登录会话 login session"
        verbose_name_plural = "登录会话 login sessions"
        indexes = [models.Index(fields=["user", "created_at"], name="auth_session_user_idx",
                                condition=models.Q(revoked_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_method_display()} · {self.created_at:%Y-%m-%d %H:%M}"


class SpentRefreshToken(models.Model):
    """The hash of a refresh token its session has already exchanged: presented again, it revokes the session."""

    session = models.ForeignKey(AuthSession, on_delete=models.CASCADE, related_name="spent_refresh_tokens",
                                verbose_name="登录会话 login session")
    token_hash = models.CharField("刷新令牌摘要 refresh token hash", max_length=64, unique=True)
    spent_at = models.DateTimeField("使用时间 used at", default=timezone.now)

    class Meta:
        verbose_name = "已用刷新令牌 spent refresh token"
        verbose_name_plural = "已用刷新令牌 spent refresh tokens"

    def __str__(self) -> str:
        return f"{self.session_id} @ {self.spent_at:%Y-%m-%d %H:%M}"


class WechatAccount(TimeStampedModel):
    """A user's identity in one WeChat app (the mini-program): its openid, and its unionid when the app belongs to
    an open-platform account. The session_key WeChat gives at each login stays here: it is never sent to anyone."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="wechat_accounts", verbose_name="用户 user")
    appid = models.CharField("小程序 AppID", max_length=32)
    openid = models.CharField("OpenID", max_length=64)
    unionid = models.CharField("UnionID", max_length=64, blank=True, default="", db_index=True)
    session_key = models.CharField("会话密钥 session key", max_length=64, blank=True, default="")
    last_login_at = models.DateTimeField("最近登录 last login", default=timezone.now)

    class Meta:
        verbose_name = "微信账号 WeChat account"
        verbose_name_plural = "微信账号 WeChat accounts"
        constraints = [
            models.UniqueConstraint(fields=["appid", "openid"], name="wechat_account_openid_once"),
            models.UniqueConstraint(fields=["user", "appid"], name="wechat_account_one_per_app"),
        ]

    def __str__(self) -> str:
        return f"{self.appid}:{self.openid}"
