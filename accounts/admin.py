from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts.models import LoginCode, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    ordering = ("-date_joined",)
    list_display = ("phone", "nickname", "role", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("phone", "nickname")
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("资料 Profile", {"fields": ("nickname", "avatar_url", "role")}),
        ("权限 Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("时间 Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("phone", "role", "password1", "password2")}),)


@admin.register(LoginCode)
class LoginCodeAdmin(ModelAdmin):
    list_display = ("phone", "created_at", "expires_at", "attempts", "consumed_at", "client_ip")
    search_fields = ("phone",)
    readonly_fields = [f.name for f in LoginCode._meta.fields]
    exclude = ("code_hash",)

    def has_add_permission(self, request):
        return False
