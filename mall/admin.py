"""Operator admin (/admin/) of the mall's money trail: payments and refunds. Failed refunds are listed first and
retried with an admin action that calls `refunds.refund_retry`; nothing here edits a field directly."""
from django.contrib import admin, messages
from django.db.models import Case, IntegerField, Value, When
from unfold.admin import ModelAdmin

from core.admin import ReadOnlyAdminMixin
from core.errors import DomainError
from mall.models import Payment, Refund
from mall.services import refunds


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "order", "provider", "provider_transaction_id", "amount", "status", "created_at")
    list_filter = ("provider", "status")
    search_fields = ("=order__number", "=provider_transaction_id")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "provider", "provider_transaction_id", "amount", "status", "payload", "created_at")
    list_select_related = ("order",)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "order", "amount", "status", "attempts", "reason", "last_error", "created_at",
                    "succeeded_at")
    list_filter = ("status", "payment__provider")
    search_fields = ("=order__number", "=reference", "=provider_refund_id")
    date_hierarchy = "created_at"
    readonly_fields = ("order", "payment", "amount", "reason", "reference", "status", "provider_refund_id",
                       "attempts", "attempted_at", "last_error", "created_at", "succeeded_at")
    list_select_related = ("order",)
    actions = ["retry_refunds"]

    def get_queryset(self, request):
        failed_first = Case(When(status=Refund.Status.FAILED, then=Value(0)),
                            When(status=Refund.Status.PENDING, then=Value(1)), default=Value(2),
                            output_field=IntegerField())
        return super().get_queryset(request).order_by(failed_first, "-created_at")

    @admin.action(description="重新发起退款 Retry the selected failed refunds")
    def retry_refunds(self, request, queryset):
        retried, refused = 0, []
        for refund in queryset.order_by("pk"):
            try:
                refunds.refund_retry(refund_id=refund.pk, actor=request.user)
                retried += 1
            except DomainError as error:
                refused.append(f"#{refund.pk}: {error.message}")
        if retried:
            self.message_user(request, f"已重新发起 {retried} 笔退款 ({retried} refunds sent again)", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)
