"""Domain errors. Each has a stable `code` (API clients switch on it) and an HTTP status.

Services raise these; `core.api.exception_handler` renders them as {"code", "message", "detail"}.
Messages are for people, in the caller's language: written in English as Django translation ids
(`gettext_lazy`) and read in Chinese by default (LANGUAGE_CODE zh-hans; each app's locale/zh_Hans catalogue),
in English for an `Accept-Language: en` caller. They are turned into text when the error is rendered, in the
language of the request that raised it.
"""
from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = _("bad request")

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None):
        self.message = message or self.message
        if code:
            self.code = code
        self.detail = detail
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"
    message = _("invalid input")


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    message = _("login required")


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    message = _("permission denied")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = _("not found")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = _("conflict")


class BusinessRuleViolation(DomainError):
    """The input is well formed but the business rules refuse it (sold out, coupon used, window closed...)."""

    status = 422
    code = "rule_violated"
    message = _("business rule violated")


class TooManyRequests(DomainError):
    status = 429
    code = "throttled"
    message = _("too many requests")

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None,
                 retry_after: int | None = None):
        super().__init__(message, code=code, detail=detail)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    message = _("service unavailable")
