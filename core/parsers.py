"""The body parsers of every API, and the character rule every request input obeys.

Hostile bodies used to reach the views: a few kilobytes of nested `[` made the JSON decoder raise RecursionError
(a 500), and a NUL or a lone surrogate (`"\\ud800"` decodes to one) got as far as psycopg2, which can send neither
to PostgreSQL (another 500). These parsers refuse both with a 400 and a stable code, so no view, serializer or
service has to think about them. They replace DRF's JSON, form and multipart parsers one for one: DRF parses form
bodies for every method, while Django's `request.POST`, all a middleware could look at, only parses POST bodies.
`core.middleware` applies the same character rule to query strings and headers, which no parser sees.
"""
import re
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser

from core.errors import DomainError

# No client of ours nests deeper than a handful of levels; 32 leaves room and stays far below Python's own limit.
MAX_DEPTH = 32

# PostgreSQL text cannot hold a NUL, and a lone surrogate (U+D800..U+DFFF outside a valid pair) cannot be encoded
# to UTF-8 at all. `json` decodes a valid pair such as "\ud83d\ude00" into one astral character, so any surrogate
# left in a decoded string is a lone one.
_INVALID_CHARACTERS = re.compile(r"[\x00\ud800-\udfff]")


# DomainError rather than ValidationFailed: code that reads the body to catch its own ValidationFailed (the login
# throttles normalise the phone number) must not swallow these and carry on with an empty body.
class TooDeeplyNested(DomainError):
    status = 400
    code = "too_deeply_nested"
    message = _("request data nested deeper than %(depth)s levels") % {"depth": MAX_DEPTH}


class InvalidCharacters(DomainError):
    status = 400
    code = "invalid_characters"
    message = _("request contains a NUL character or a lone surrogate")


def text_is_valid(text: str) -> bool:
    return _INVALID_CHARACTERS.search(text) is None


def data_vet(*, data: Any) -> None:
    """Refuse decoded data nested deeper than MAX_DEPTH, or with a NUL or lone surrogate in any string or key.

    Walks with an explicit stack, so vetting a hostile document cannot exhaust Python's stack itself. The error's
    detail points at the offending value by its path of keys and indexes; the offending text is never echoed back.
    """
    pending: list[tuple[Any, int, list]] = [(data, 1, [])]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, str):
            if not text_is_valid(value):
                raise InvalidCharacters(detail={"in": "body", "path": path})
            continue
        if isinstance(value, dict):
            children = value.items()
        elif isinstance(value, list):
            children = enumerate(value)
        else:
            continue
        if depth > MAX_DEPTH:
            raise TooDeeplyNested(detail={"max_depth": MAX_DEPTH})
        for key, child in children:
            if isinstance(key, str) and not text_is_valid(key):
                raise InvalidCharacters(detail={"in": "body", "path": path})
            pending.append((child, depth + 1, [*path, key]))


def form_vet(*, form: QueryDict) -> None:
    data_vet(data=dict(form.lists()))


class SafeJSONParser(JSONParser):
    """DRF's JSON parser, plus: no nesting deeper than MAX_DEPTH, no NUL, no lone surrogate."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            # Nested far beyond MAX_DEPTH: the C decoder gave up before we could count.
            raise TooDeeplyNested(detail={"max_depth": MAX_DEPTH}) from error
        data_vet(data=data)
        return data


class SafeFormParser(FormParser):
    """DRF's urlencoded form parser, plus: no NUL (`%00`) in a field's name or value."""

    def parse(self, stream, media_type=None, parser_context=None):
        form = super().parse(stream, media_type, parser_context)
        form_vet(form=form)
        return form


class SafeMultiPartParser(MultiPartParser):
    """DRF's multipart form parser, plus: no NUL in a field's name or value. Uploaded files are left as they are."""

    def parse(self, stream, media_type=None, parser_context=None):
        data_and_files = super().parse(stream, media_type, parser_context)
        form_vet(form=data_and_files.data)
        return data_and_files
