from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class TimeStampedModel(models.Model):
    """Base model: every row knows when it was created and last changed."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name="创建时间 created")
    updated_at = models.DateTimeField(auto_now=True, verbose_name="更新时间 updated")

    class Meta:
        abstract = True


class CurrentTransactionId(models.Func):
    """The id of the writing transaction (`pg_current_xact_id()`, 64 bits, never wraps), as a bigint.

    Batch consumers read events in (transaction id, id) order and only below the oldest transaction still running,
    so an event whose transaction commits late is never skipped (see core/events.py)."""

    template = "(pg_current_xact_id()::text::bigint)"
    output_field = models.BigIntegerField()


class BehaviourEvent(models.Model):
    """One state change a user (or an anonymous visitor) made. Append-only: the single source of truth for
    behaviour data.

    Written by `core.events.record_event` in the same transaction as the change it describes. Nothing on the row
    changes after it is written: delivery progress lives in EventDelivery (transactional handlers) and EventCursor
    (batch consumers), and no foreign key points into this table, so it can be partitioned by month
    (ARCHITECTURE.md, "Domain events"). `actor_id` is a plain reference (no database constraint): an event outlives
    the account, and a delete on the user table must not rewrite history rows.
    """

    kind = models.CharField("类型 kind", max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
        related_name="+", verbose_name="用户 actor",
    )
    visitor_id = models.CharField("访客 visitor id", max_length=64, blank=True, default="")
    object_type = models.CharField("对象类型 object type", max_length=64, blank=True, default="")
    object_id = models.CharField("对象 object id", max_length=64, blank=True, default="")
    payload = models.JSONField("内容 payload", default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField("时间 time")
    transaction_id = models.BigIntegerField("写入事务 writing transaction", db_default=CurrentTransactionId(),
                                            editable=False)

    class Meta:
        verbose_name = "行为事件 behaviour event"
        verbose_name_plural = "行为事件 behaviour events"
        indexes = [
            # Partial: anonymous visits (most of the volume) carry no user and cost this index nothing.
            models.Index(fields=["actor", "created_at"], name="event_actor_time_idx",
                         condition=models.Q(actor__isnull=False)),
            models.Index(fields=["visitor_id", "created_at"], name="event_visitor_time_idx",
                         condition=~models.Q(visitor_id="")),
            models.Index(fields=["kind", "created_at"], name="event_kind_time_idx"),
            models.Index(fields=["object_type", "object_id"], name="event_object_idx"),
            models.Index(fields=["transaction_id", "id"], name="event_commit_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class EventDelivery(models.Model):
    """The progress of one transactional handler on one event, written with the event (an outbox row).

    Unique per (event, handler): a handler's effect commits together with `done_at`, so running the same delivery
    twice does nothing the second time. `event_id` is a plain number, not a foreign key, so the event table stays
    free to be partitioned."""

    event_id = models.BigIntegerField("事件 event id")
    kind = models.CharField("类型 kind", max_length=64)
    handler = models.CharField("处理器 handler", max_length=128)
    attempts = models.PositiveIntegerField("尝试次数 attempts", default=0)
    last_error = models.TextField("最近错误 last error", blank=True, default="")
    created_at = models.DateTimeField("创建 created", auto_now_add=True)
    attempted_at = models.DateTimeField("最近尝试 last attempt", null=True, blank=True)
    done_at = models.DateTimeField("完成 done", null=True, blank=True)

    class Meta:
        verbose_name = "事件投递 event delivery"
        verbose_name_plural = "事件投递 event deliveries"
        constraints = [models.UniqueConstraint(fields=["event_id", "handler"], name="event_delivery_once")]
        indexes = [models.Index(fields=["created_at"], name="event_delivery_pending_idx",
                                condition=models.Q(done_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.handler} <- {self.event_id}"


class EventCursor(models.Model):
    """How far one batch consumer has read the event table: the (transaction id, event id) of the last event it
    finished. Durable, so a restarted consumer goes on where it stopped."""

    consumer = models.CharField("消费者 consumer", max_length=128, primary_key=True)
    transaction_id = models.BigIntegerField(default=0, verbose_name="写入事务 transaction id")
    event_id = models.BigIntegerField(default=0, verbose_name="事件 id event id")
    processed = models.BigIntegerField("已处理 events processed", default=0)
    last_event_at = models.DateTimeField("最近事件时间 time of the last event read", null=True, blank=True)
    last_run_at = models.DateTimeField("最近运行 last run", null=True, blank=True)
    last_error = models.TextField("最近错误 last error", blank=True, default="")

    class Meta:
        verbose_name = "事件消费游标 event cursor"
        verbose_name_plural = "事件消费游标 event cursors"

    def __str__(self) -> str:
        return f"{self.consumer} @ {self.transaction_id}/{self.event_id}"


class EventDailyCount(models.Model):
    """How many events of each kind happened each day (Asia/Shanghai): kept by the `core.event_daily_counts` batch
    consumer, read by dashboards instead of counting the event table."""

    day = models.DateField("日期 day")
    kind = models.CharField("类型 kind", max_length=64)
    count = models.BigIntegerField("次数 count", default=0)

    class Meta:
        verbose_name = "每日事件数 daily event count"
        verbose_name_plural = "每日事件数 daily event counts"
        constraints = [models.UniqueConstraint(fields=["day", "kind"], name="event_daily_count_once")]

    def __str__(self) -> str:
        return f"{self.day} {self.kind}: {self.count}"


from core.ml.models import ModelVersion  # noqa: E402  (the registry's table belongs to this app)

__all__ = ["BehaviourEvent", "CurrentTransactionId", "EventCursor", "EventDailyCount", "EventDelivery",
           "ModelVersion", "TimeStampedModel"]
