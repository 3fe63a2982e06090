from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts.models import AuthSession, LoginCode, SpentRefreshToken, User, WechatAccount
from accounts.tokens import auth_session_revoke
from core.admin import ExactSearchMixin, ReadOnlyAdminMixin, ServiceActionsMixin


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):
    icon = "person"
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("-date_joined",)
    list_display = ("phone", "nickname", "role", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("phone", "nickname")
    date_hierarchy = "date_joined"
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("资料 Profile", {"fields": ("nickname", "avatar_url", "role")}),
        ("权限 Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("时间 Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone", "role", "password1", "password2")}),)


@admin.register(LoginCode)
class LoginCodeAdmin(ExactSearchMixin, ModelAdmin):
    """Sent codes, for answering "I got no code": never the code itself (only its keyed hash is stored)."""

    icon = "sms"
    list_display = ("phone", "created_at", "expires_at", "attempts", "consumed_at", "client_ip")
    list_filter = (("consumed_at", admin.EmptyFieldListFilter),)
    search_fields = ("phone__exact",)
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in LoginCode._meta.fields]
    exclude = ("code_hash",)
    show_full_result_count = False  # one row per code sent

    def has_add_permission(self, request):
        return False


# Django's own group admin is plain (unthemed): operators get a themed one.
admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin, ModelAdmin):
    icon = "group"


@admin.register(AuthSession)
class AuthSessionAdmin(ExactSearchMixin, ServiceActionsMixin, ReadOnlyAdminMixin, ModelAdmin):
    """A user's logins, one per device: how, from which client, until when. Only hashes of the tokens are stored,
    and not even those are shown; revoking a session logs that device out."""

    icon = "key"
    list_display = ("user", "method", "client", "created_at", "refreshed_at", "access_expires_at",
                    "refresh_expires_at", "revoked_at", "revoked_reason")
    list_filter = ("method", ("revoked_at", admin.EmptyFieldListFilter), "revoked_reason")
    search_fields = ("user__phone__exact",)
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    fields = ("user", "method", "client", "created_at", "refresh_count", "refreshed_at", "access_expires_at",
              "refresh_expires_at", "revoked_at", "revoked_reason")
    readonly_fields = fields
    show_full_result_count = False
    actions = ("revoke",)

    @admin.action(description="撤销会话（该设备需重新登录）Revoke: that device logs in again", permissions=["operate"])
    def revoke(self, request, queryset):
        self.run_service_on_each(request, queryset.filter(revoked_at__isnull=True).order_by("pk"),
                                 lambda session: auth_session_revoke(session_id=session.pk,
                                                                     reason=AuthSession.RevokedReason.OPERATOR),
                                 done="已撤销 revoked")


@admin.register(SpentRefreshToken)
class SpentRefreshTokenAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Refresh tokens already exchanged (their hashes, never shown): one presented again ends its session."""

    icon = "key_off"
    list_display = ("session", "spent_at")
    search_fields = ("session__user__phone__exact",)
    date_hierarchy = "spent_at"
    list_select_related = ("session__user",)
    fields = ("session", "spent_at")
    readonly_fields = fields
    show_full_result_count = False


@admin.register(WechatAccount)
class WechatAccountAdmin(ExactSearchMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Who is who in WeChat: the openid (and unionid) bound to each user at WeChat login. The session key WeChat
    hands us is never shown."""

    icon = "chat"
    list_display = ("user", "appid", "openid", "unionid", "created_at", "last_login_at")
    list_filter = ("appid",)
    search_fields = ("openid__exact", "unionid__exact", "user__phone__exact")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    fields = ("user", "appid", "openid", "unionid", "created_at", "last_login_at")
    readonly_fields = fields
    show_full_result_count = False
