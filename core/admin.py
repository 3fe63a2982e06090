from django.contrib import admin, messages
from unfold.admin import ModelAdmin

from core.events import batch_consumers, consumer_lag, event_delivery_reset
from core.models import BehaviourEvent, EventCursor, EventDelivery


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (events, payments, refunds): operators read them; state changes are admin
    actions that call services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BehaviourEvent)
class BehaviourEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Append-only: operators read events, nobody edits them."""

    list_display = ("id", "kind", "actor_id", "visitor_id", "object_type", "object_id", "created_at")
    list_filter = ("kind",)
    search_fields = ("=kind", "=object_id", "=visitor_id", "=actor_id")
    date_hierarchy = "created_at"
    readonly_fields = ("kind", "actor_id", "visitor_id", "object_type", "object_id", "payload", "created_at",
                       "transaction_id")
    fields = readonly_fields
    show_full_result_count = False  # the table grows large; COUNT(*) on every page would be slow


@admin.register(EventDelivery)
class EventDeliveryAdmin(ModelAdmin):
    list_display = ("event_id", "kind", "handler", "attempts", "created_at", "attempted_at", "done_at", "last_error")
    list_filter = ("kind", "handler", ("done_at", admin.EmptyFieldListFilter))
    search_fields = ("=event_id",)
    readonly_fields = ("event_id", "kind", "handler", "attempts", "last_error", "created_at", "attempted_at",
                       "done_at")
    actions = ["retry_deliveries"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="重新投递 Retry the selected failed deliveries")
    def retry_deliveries(self, request, queryset):
        count = 0
        for delivery in queryset.filter(done_at__isnull=True):
            event_delivery_reset(delivery_id=delivery.pk)
            count += 1
        self.message_user(request, f"已重新投递 {count} 条 ({count} deliveries queued again)", messages.SUCCESS)


@admin.register(EventCursor)
class EventCursorAdmin(ModelAdmin):
    """Where each batch consumer stands, and how far behind it is."""

    list_display = ("consumer", "processed", "pending", "lag_seconds", "last_event_at", "last_run_at", "last_error")
    readonly_fields = ("consumer", "transaction_id", "event_id", "processed", "last_event_at", "last_run_at",
                       "last_error")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _lag(self, cursor: EventCursor) -> dict:
        known = {consumer.name for consumer in batch_consumers()}
        return consumer_lag(name=cursor.consumer) if cursor.consumer in known else {}

    @admin.display(description="待处理 pending")
    def pending(self, cursor: EventCursor):
        return self._lag(cursor).get("pending", "-")

    @admin.display(description="延迟(秒) lag s")
    def lag_seconds(self, cursor: EventCursor):
        return self._lag(cursor).get("lag_seconds", "-")
