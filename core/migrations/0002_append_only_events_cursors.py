"""Events v2: the event row is append-only (no delivery state on it, no foreign key into it), carries the id of its
writing transaction for batch consumers, and may have an anonymous visitor as its actor; delivery rows point at
events by number; batch consumers keep durable cursors."""
import django.core.serializers.json
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import core.models


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_behaviour_events"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # --- the event row ---
        migrations.RemoveIndex(model_name="behaviourevent", name="event_unhandled_idx"),
        migrations.RemoveField(model_name="behaviourevent", name="handled_at"),
        migrations.AlterField(
            model_name="behaviourevent", name="actor",
            field=models.ForeignKey(blank=True, db_constraint=False, null=True,
                                    on_delete=django.db.models.deletion.DO_NOTHING, related_name="+",
                                    to=settings.AUTH_USER_MODEL, verbose_name="用户 actor"),
        ),
        migrations.AddField(
            model_name="behaviourevent", name="visitor_id",
            field=models.CharField(blank=True, default="", max_length=64, verbose_name="访客 visitor id"),
        ),
        migrations.AddField(
            model_name="behaviourevent", name="transaction_id",
            field=models.BigIntegerField(db_default=core.models.CurrentTransactionId(), editable=False,
                                         verbose_name="写入事务 writing transaction"),
        ),
        migrations.AlterField(model_name="behaviourevent", name="kind",
                              field=models.CharField(max_length=64, verbose_name="类型 kind")),
        migrations.AlterField(model_name="behaviourevent", name="object_type",
                              field=models.CharField(blank=True, default="", max_length=64,
                                                     verbose_name="对象类型 object type")),
        migrations.AlterField(model_name="behaviourevent", name="object_id",
                              field=models.CharField(blank=True, default="", max_length=64,
                                                     verbose_name="对象 object id")),
        migrations.AlterField(model_name="behaviourevent", name="payload",
                              field=models.JSONField(blank=True, default=dict,
                                                     encoder=django.core.serializers.json.DjangoJSONEncoder,
                                                     verbose_name="内容 payload")),
        migrations.AlterField(model_name="behaviourevent", name="created_at",
                              field=models.DateTimeField(verbose_name="时间 time")),
        migrations.AddIndex(
            model_name="behaviourevent",
            index=models.Index(condition=models.Q(("visitor_id", ""), _negated=True),
                               fields=["visitor_id", "created_at"], name="event_visitor_time_idx"),
        ),
        migrations.AddIndex(
            model_name="behaviourevent",
            index=models.Index(fields=["transaction_id", "id"], name="event_commit_order_idx"),
        ),
        # --- delivery rows: the foreign key to the event becomes a plain number in the same column ---
        migrations.AlterField(
            model_name="eventdelivery", name="event",
            field=models.ForeignKey(db_constraint=False, db_index=False,
                                    on_delete=django.db.models.deletion.DO_NOTHING, related_name="+",
                                    to="core.behaviourevent"),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(model_name="eventdelivery", name="event_delivery_once"),
                migrations.RemoveField(model_name="eventdelivery", name="event"),
                migrations.AddField(model_name="eventdelivery", name="event_id",
                                    field=models.BigIntegerField(verbose_name="事件 event id"),
                                    preserve_default=False),
                migrations.AddConstraint(
                    model_name="eventdelivery",
                    constraint=models.UniqueConstraint(fields=("event_id", "handler"), name="event_delivery_once"),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="eventdelivery", name="kind",
            field=models.CharField(default="", max_length=64, verbose_name="类型 kind"), preserve_default=False,
        ),
        migrations.AddField(
            model_name="eventdelivery", name="created_at",
            field=models.DateTimeField(auto_now_add=True, default=django.utils.timezone.now,
                                       verbose_name="创建 created"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="eventdelivery", name="attempted_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="最近尝试 last attempt"),
        ),
        migrations.AlterField(model_name="eventdelivery", name="handler",
                              field=models.CharField(max_length=128, verbose_name="处理器 handler")),
        migrations.AlterField(model_name="eventdelivery", name="attempts",
                              field=models.PositiveIntegerField(default=0, verbose_name="尝试次数 attempts")),
        migrations.AlterField(model_name="eventdelivery", name="last_error",
                              field=models.TextField(blank=True, default="", verbose_name="最近错误 last error")),
        migrations.AlterField(model_name="eventdelivery", name="done_at",
                              field=models.DateTimeField(blank=True, null=True, verbose_name="完成 done")),
        migrations.AddIndex(
            model_name="eventdelivery",
            index=models.Index(condition=models.Q(("done_at__isnull", True)), fields=["created_at"],
                               name="event_delivery_pending_idx"),
        ),
        # --- batch consumers' cursors ---
        migrations.CreateModel(
            name="EventCursor",
            fields=[
                ("consumer", models.CharField(max_length=128, primary_key=True, serialize=False,
                                              verbose_name="消费者 consumer")),
                ("transaction_id", models.BigIntegerField(default=0)),
                ("event_id", models.BigIntegerField(default=0)),
                ("processed", models.BigIntegerField(default=0, verbose_name="已处理 events processed")),
                ("last_event_at", models.DateTimeField(blank=True, null=True,
                                                       verbose_name="最近事件时间 time of the last event read")),
                ("last_run_at", models.DateTimeField(blank=True, null=True, verbose_name="最近运行 last run")),
                ("last_error", models.TextField(blank=True, default="", verbose_name="最近错误 last error")),
            ],
            options={"verbose_name": "事件消费游标 event cursor", "verbose_name_plural": "事件消费游标 event cursors"},
        ),
        migrations.CreateModel(
            name="EventDailyCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField(verbose_name="日期 day")),
                ("kind", models.CharField(max_length=64, verbose_name="类型 kind")),
                ("count", models.BigIntegerField(default=0, verbose_name="次数 count")),
            ],
            options={"verbose_name": "每日事件数 daily event count", "verbose_name_plural": "每日事件数 daily event counts",
                     "constraints": [models.UniqueConstraint(fields=("day", "kind"), name="event_daily_count_once")]},
        ),
    ]
