"""Serializer fields shared by the APIs."""
from rest_framework import serializers

MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """A row id in a request body: a positive integer within bigint range."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class MoneyField(serializers.DecimalField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)


class IdempotencyKeyField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("error_messages",
                          {"invalid": "幂等键为 8-64 位字母、数字或 -_: (8-64 letters, digits, - _ :)"})
        super().__init__(r"^[A-Za-z0-9_:\-]{8,64}$", **kwargs)
