from django.contrib import admin, messages

from core.events import event_delivery_reset
from core.models import BehaviourEvent, EventDelivery


class EventDeliveryInline(admin.TabularInline):
    model = EventDelivery
    extra = 0
    can_delete = False
    readonly_fields = ("handler", "attempts", "last_error", "done_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BehaviourEvent)
class BehaviourEventAdmin(admin.ModelAdmin):
    """Append-only: operators read events, nobody edits them."""

    list_display = ("id", "kind", "actor", "object_type", "object_id", "created_at", "handled_at")
    list_filter = ("kind", ("handled_at", admin.EmptyFieldListFilter))
    search_fields = ("kind", "object_id", "actor__phone")
    date_hierarchy = "created_at"
    readonly_fields = ("actor", "kind", "object_type", "object_id", "payload", "created_at", "handled_at")
    inlines = [EventDeliveryInline]
    show_full_result_count = False  # the table grows large; COUNT(*) on every page would be slow

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EventDelivery)
class EventDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "handler", "attempts", "done_at", "last_error")
    list_filter = ("handler", ("done_at", admin.EmptyFieldListFilter))
    readonly_fields = ("event", "handler", "attempts", "last_error", "done_at")
    actions = ["retry_deliveries"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="重新投递 Retry the selected failed deliveries")
    def retry_deliveries(self, request, queryset):
        count = 0
        for delivery in queryset.filter(done_at__isnull=True):
            event_delivery_reset(delivery_id=delivery.pk)
            count += 1
        self.message_user(request, f"{count} deliveries queued again", messages.SUCCESS)
