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

    def create_user(self, phone: str, password: str | None = None, **fields):
        if not phone:
            raise ValueError("phone is required")
        user = self.model(phone=phone, **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()  # shoppers log in with one-time codes, not passwords
        user.save(using=self._db)
        return user

    def create_superuser(self, phone: str, password: str | None = None, **fields):
        fields.update(is_staff=True, is_superuser=True, role=Role.OPERATOR)
        return self.create_user(phone, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in. The phone number (mainland China mobile, 11 digits) is the login."""

    phone = models.CharField("手机号 phone", max_length=20, unique=True)
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
        ]

    def __str__(self) -> str:
        return self.nickname or self.masked_phone

    @property
    def masked_phone(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}" if len(self.phone) >= 7 else self.phone


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
