"""What every API shares: the one exception handler that shapes every error, pagination."""
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, pagination, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.authentication import AuthenticationRefused
from core.errors import DomainError, TooManyRequests

# DRF's own exceptions, mapped onto our stable codes and human messages.
_DRF_ERRORS: list[tuple[type[Exception], str, str]] = [
    (exceptions.ParseError, "malformed_request", _("malformed request body")),
    (exceptions.ValidationError, "invalid", _("invalid input")),
    (exceptions.NotAuthenticated, "not_authenticated", _("login required")),
    (exceptions.AuthenticationFailed, "authentication_failed", _("invalid or expired credentials")),
    (exceptions.PermissionDenied, "permission_denied", _("permission denied")),
    (exceptions.NotFound, "not_found", _("not found")),
    (exceptions.MethodNotAllowed, "method_not_allowed", _("method not allowed")),
    (exceptions.NotAcceptable, "not_acceptable", _("not acceptable")),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", _("unsupported media type")),
    (exceptions.Throttled, "throttled", _("too many requests")),
]


def error_response(*, status_code: int, code: str, message: str, detail=None, headers=None) -> Response:
    return Response({"code": code, "message": message, "detail": detail}, status=status_code, headers=headers)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """Render every known error as {"code", "message", "detail"}. Unknown exceptions stay 500s: they are bugs."""
    if isinstance(exc, DomainError):
        set_rollback()
        headers = None
        if isinstance(exc, TooManyRequests) and exc.retry_after:
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(status_code=exc.status, code=exc.code, message=exc.message, detail=exc.detail,
                              headers=headers)
    # A 401 names the scheme to authenticate with (DRF sets it from the view's first authentication class).
    auth_headers = {"WWW-Authenticate": exc.auth_header} if getattr(exc, "auth_header", None) else None
    if isinstance(exc, AuthenticationRefused):
        set_rollback()
        return error_response(status_code=exc.status_code, code=exc.stable_code, message=exc.message,
                              headers=auth_headers)
    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    code, message = "error", str(exc.detail)
    for error_class, error_code, error_message in _DRF_ERRORS:
        if isinstance(exc, error_class):
            code, message = error_code, error_message
            break
    detail = exc.detail if isinstance(exc, exceptions.ValidationError) else None
    headers = dict(auth_headers or {})
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait) + 1)
        detail = {"retry_after_seconds": int(exc.wait) + 1}
    if isinstance(exc, exceptions.MethodNotAllowed):
        detail = {"method": context["request"].method if context.get("request") else None}
    return error_response(status_code=exc.status_code, code=code, message=message, detail=detail, headers=headers)


class PagePagination(pagination.PageNumberPagination):
    """A page of a list: `{"count", "next", "previous", "results"}`, chosen with `?page=` (1-based) and
    `?page_size=` (up to 100). A view that paginates says so with `pagination_class = PagePagination`, which is
    also what makes the OpenAPI schema type its list as a page."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response_schema(self, schema: dict) -> dict:
        # DRF declares only count and results required; every page carries all four keys.
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["count", "next", "previous", "results"]
        return paginated

    def get_page_number(self, request, paginator):
        # A page past the end or a malformed number is the client's mistake: say so with our error shape.
        raw = request.query_params.get(self.page_query_param, 1)
        if raw in self.last_page_strings:
            return paginator.num_pages
        refusal = exceptions.ValidationError({"page": [_("page must be a positive integer")]})
        try:
            number = int(raw)
        except (TypeError, ValueError) as error:
            raise refusal from error
        if number < 1:
            raise refusal
        return number


@csrf_exempt  # also the view of the /api/ catch-all: an unknown path answers 404 to every method, POST included
def not_found_json(request, exception=None):
    """handler404 for /api/: answer with our error shape rather than an HTML page."""
    from django.http import JsonResponse

    return JsonResponse({"code": "not_found", "message": _("no such endpoint"), "detail": None},
                        status=status.HTTP_404_NOT_FOUND, json_dumps_params={"ensure_ascii": False})



class BeaconNegotiation(DefaultContentNegotiation):
    """For endpoints that answer with no body (tracking beacons, 204): the body is parsed by its content type as
    everywhere, but the answer is always the first renderer's, whatever the client's Accept says. DRF's default
    negotiation parses Accept on every request, a quarter of DRF's own time on an endpoint that records one event
    (bench/events.py); an error is still rendered as JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
