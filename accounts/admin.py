from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import TokenProxy
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts.models import LoginCode, User
from core.admin import ExactSearchMixin


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


# Django's and DRF's own admins are plain (unthemed) and DRF's lists every shopper's bearer token in clear:
# operators get themed ones that never show a key.
admin.site.unregister(Group)
admin.site.unregister(TokenProxy)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin, ModelAdmin):
    icon = "group"


@admin.register(TokenProxy)
class ApiTokenAdmin(ModelAdmin):
    """A shopper's API sessions: who and since when. The key is never shown; deleting one logs that client out."""

    icon = "key"
    list_display = ("user", "created")
    search_fields = ("user__phone",)
    date_hierarchy = "created"
    fields = ("user", "created")
    readonly_fields = ("user", "created")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
