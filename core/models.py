from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class TimeStampedModel(models.Model):
    """Base model: every row knows when it was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class BehaviourEvent(models.Model):
    """One state change a user made. Append-only: the single source of truth for behaviour data.

    Written by `core.events.record_event` in the same transaction as the change it describes.
    `handled_at` is set once every handler subscribed to its kind has finished; the sweep re-delivers
    events that stay unhandled (a worker crashed, a task was lost).
    """

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="behaviour_events"
    )
    kind = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(db_index=False)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "行为事件 behaviour event"
        verbose_name_plural = "行为事件 behaviour events"
        indexes = [
            models.Index(fields=["actor", "created_at"], name="event_actor_time_idx"),
            models.Index(fields=["kind", "created_at"], name="event_kind_time_idx"),
            models.Index(fields=["object_type", "object_id"], name="event_object_idx"),
            models.Index(
                fields=["created_at"], name="event_unhandled_idx", condition=models.Q(handled_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class EventDelivery(models.Model):
    """The progress of one handler on one event. Unique per (event, handler): a handler's effect commits
    together with `done_at`, so running the same delivery twice does nothing the second time."""

    event = models.ForeignKey(BehaviourEvent, on_delete=models.CASCADE, related_name="deliveries")
    handler = models.CharField(max_length=128)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "事件投递 event delivery"
        verbose_name_plural = "事件投递 event deliveries"
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="event_delivery_once")]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.event_id}"
