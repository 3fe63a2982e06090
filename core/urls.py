"""URL helpers every app's urls use."""
from django.urls import register_converter


class IdConverter:
    """A row id in a URL: 1 to 18 digits, so an over-long number is a 404, not a database overflow."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")
