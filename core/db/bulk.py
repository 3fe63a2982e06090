"""Bulk writes for loaders and backfills: PostgreSQL COPY streamed while the rows are made, ids reserved from a
sequence in one round trip, one UPDATE ... FROM (VALUES ...) for thousands of rows, ANALYZE after a table grew.

Moved here from the demo loader of issue 6 (mall/demo.py) so every app's loader writes the same way; they know no
domain: tables and columns come from the models they are given.
"""
import json
from collections.abc import Callable, Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import NOT_PROVIDED
from django.utils import timezone
from psycopg2.extras import execute_values

COPY_READ_SIZE = 1 << 16  # characters COPY asks for per read: a few hundred rows


def analyze(*models) -> None:
    """Refresh the planner statistics of tables that just grew by thousands of rows in this transaction: without
    them PostgreSQL still believes they are empty and picks nested loops that turn the next lookups into seconds."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def update_from_values(*, model, assignments: str, columns: tuple[str, ...], rows: list[tuple],
                       key: str = "id") -> None:
    """UPDATE <table> SET <assignments> FROM (VALUES ...) AS v(key, columns) WHERE <table>.key = v.key: one
    statement for thousands of rows with different values, where bulk_update would build a CASE per row and field.
    Table and column names come from the model, values travel as parameters."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(("key", *columns))
    sql = (f"UPDATE {table} SET {assignments.format(table=table)} FROM (VALUES %s) AS v({names}) "  # noqa: S608
           f"WHERE {table}.{connection.ops.quote_name(key)} = v.key")
    with connection.cursor() as cursor:
        execute_values(cursor.cursor, sql, rows, page_size=len(rows))


def ids_reserve(*, model, count: int) -> list[int]:
    """`count` ids from the table's id sequence in one round trip, ascending, so rows can point at each other before
    they are written. Ids are never handed out twice, also not to concurrent writers."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)",
                       [connection.ops.quote_name(model._meta.db_table), model._meta.pk.column])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count])
        return sorted(value for (value,) in cursor.fetchall())


# COPY's text format: tab-separated columns, \N for NULL, backslash escapes for these four characters.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_NULL = "\\N"
_TEXT_FIELDS = {"CharField", "TextField", "SlugField", "EmailField", "URLField"}


def _copy_escaped(value: str) -> str:
    return str.translate(value, _COPY_ESCAPES)


def _copy_json(value) -> str:
    if not value and isinstance(value, dict):  # most JSON columns here hold {}: skip the encoder
        return "{}"
    return _copy_escaped(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def _copy_boolean(value: bool) -> str:
    return "t" if value else "f"


def _copy_formatter(field) -> Callable[[object], str]:
    """How a value of this field reads in COPY's text format, chosen once per column, not per value: text is
    escaped, JSON encoded, anything else (numbers, Decimal, datetime, which print as PostgreSQL reads them) str().
    A foreign key is written as the field it points to, and may be NULL when the foreign key itself is nullable."""
    nullable = field.null
    if field.is_relation:
        field = field.target_field
    internal_type = field.get_internal_type()
    if internal_type in _TEXT_FIELDS:
        formatter = _copy_escaped
    elif internal_type == "JSONField":
        formatter = _copy_json
    elif internal_type == "BooleanField":
        formatter = _copy_boolean
    else:
        formatter = str
    if nullable:
        plain = formatter
        return lambda value: _COPY_NULL if value is None else plain(value)
    return formatter


class _CopyStream:
    """The rows as a file COPY can read() from: each read formats the next rows, so PostgreSQL already stores the
    first rows while Python still makes the later ones (two cores work at once)."""

    def __init__(self, rows: Iterable[tuple], formatters: list[Callable[[object], str]], suffix: str):
        self.rows = iter(rows)
        self.formatters = formatters
        self.end = suffix + "\n"
        self.count = 0

    def read(self, size: int = -1) -> str:
        lines = []
        length = 0
        formatters, end = self.formatters, self.end
        for row in self.rows:
            line = "\t".join([formatter(value) for formatter, value in zip(formatters, row, strict=True)]) + end
            lines.append(line)
            length += len(line)
            if 0 <= size <= length:
                break
        self.count += len(lines)
        return "".join(lines)


def copy_rows(*, model, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """COPY the rows (tuples of `columns`, field attnames) into the model's table and return how many went in.

    The columns not named get what an ORM insert would give them, so a field added to the model later does not
    break the loader: its model default (constant for the batch), else NULL when nullable; the id and database
    defaults (db_default, e.g. BehaviourEvent.transaction_id) are left to PostgreSQL."""
    meta = model._meta
    named = [meta.get_field(name) for name in columns]
    named_columns = {field.column for field in named}
    defaulted, default_texts = [], []
    for other in meta.concrete_fields:
        if other.column in named_columns or other.primary_key or other.db_default is not NOT_PROVIDED:
            continue
        if other.has_default():
            value = other.get_default()
        elif getattr(other, "auto_now", False) or getattr(other, "auto_now_add", False):
            value = timezone.now()
        elif other.null:
            continue
        else:
            raise ValueError(f"COPY into {meta.db_table} needs a value for {other.attname}")
        defaulted.append(other)
        default_texts.append(_copy_formatter(other)(value))
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in [*named, *defaulted])
    stream = _CopyStream(rows, [_copy_formatter(field) for field in named],
                         suffix="".join(f"\t{text}" for text in default_texts))
    with connection.cursor() as cursor, connection.wrap_database_errors:  # psycopg2's errors as Django's, as the ORM
        cursor.copy_expert(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN", stream, COPY_READ_SIZE)
    return stream.count
