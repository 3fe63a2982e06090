"""Refuse NUL and lone surrogates in the query string and the headers of every request (JSON for /api/, a plain
400 page for the consoles and the admin).

Bodies are vetted by the parsers in `core.parsers`; query strings and headers pass through no parser. They reach
views, DRF's authentication and the session machinery through `request.GET` and `request.META`, so one check
before any of those runs is one fix for every endpoint. The alternative, catching the error psycopg2 raises once
such a string reaches a query ("A string literal cannot contain NUL", a plain `ValueError`), would have the
exception handler guess where a `ValueError` came from: it would hide real bugs, and miss failures before a query.

A header value must in addition be Latin-1 text. A WSGI server cannot deliver anything else (PEP 3333), but a
test client or a misbehaving adapter can, and DRF's `get_authorization_header` raises UnicodeEncodeError on it.
"""
from django.http import HttpRequest, HttpResponseBadRequest, JsonResponse

from core.parsers import InvalidCharacters, text_is_valid


def _header_is_valid(value: str) -> bool:
    return text_is_valid(value) and all(character <= "\xff" for character in value)


def _refusal(request: HttpRequest) -> InvalidCharacters | None:
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and not _header_is_valid(value):
            header = key.removeprefix("HTTP_").replace("_", "-").title()
            return InvalidCharacters(detail={"in": "header", "path": [header]})
    for name, values in request.GET.lists():
        if not text_is_valid(name):
            return InvalidCharacters(detail={"in": "query", "path": []})
        if not all(text_is_valid(value) for value in values):
            return InvalidCharacters(detail={"in": "query", "path": [name]})
    return None


class InvalidCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        refusal = _refusal(request)
        if refusal is None:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"code": refusal.code, "message": refusal.message, "detail": refusal.detail},
                                status=refusal.status, json_dumps_params={"ensure_ascii": False})
        return HttpResponseBadRequest(refusal.message, content_type="text/plain; charset=utf-8")
