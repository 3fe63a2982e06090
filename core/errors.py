"""Domain errors. Each has a stable `code` (API clients switch on it) and an HTTP status.

Services raise these; `core.api.exception_handler` renders them as {"code", "message", "detail"}.
Messages are for people: Chinese first, because our users are Chinese merchants and shoppers.
"""
from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误 (bad request)"

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None):
        self.message = message or self.message
        if code:
            self.code = code
        self.detail = detail
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status = 400
    code = "invalid"
    message = "输入有误 (invalid input)"


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    message = "请先登录 (login required)"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    message = "没有权限 (permission denied)"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "对象不存在 (not found)"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "状态冲突 (conflict)"


class BusinessRuleViolation(DomainError):
    """The input is well formed but the business rules refuse it (sold out, coupon used, window closed...)."""

    status = 422
    code = "rule_violated"
    message = "不符合业务规则 (business rule violated)"


class TooManyRequests(DomainError):
    status = 429
    code = "throttled"
    message = "请求过于频繁，请稍后再试 (too many requests)"

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None,
                 retry_after: int | None = None):
        super().__init__(message, code=code, detail=detail)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    message = "服务暂不可用 (service unavailable)"
