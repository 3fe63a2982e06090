"""The kernel's own batch consumer: daily counts of every event kind, for dashboards and lag monitoring.

It knows no domain (it counts whatever kinds exist). It runs in a transaction with its cursor, so every event is
counted exactly once however often it runs.
"""
from collections import Counter

from django.db import connection
from django.utils import timezone

from core.events import batch_consumer
from core.models import BehaviourEvent, EventDailyCount

DAILY_COUNTS = "core.event_daily_counts"


@batch_consumer(name=DAILY_COUNTS, batch_size=2000, meaning="每日事件计数 daily count of events per kind")
def event_daily_counts(events: list[BehaviourEvent]) -> None:
    counts = Counter((timezone.localdate(event.created_at), event.kind) for event in events)
    rows = [(day, kind, count) for (day, kind), count in counts.items()]
    table = EventDailyCount._meta.db_table
    values = ", ".join(["(%s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, kind, count) VALUES {values} "  # noqa: S608 (our table name)
            "ON CONFLICT (day, kind) DO UPDATE SET count = {table}.count + EXCLUDED.count".replace("{table}", table),
            [value for row in rows for value in row])
