"""What the OpenAPI schema says about errors, for every operation at once.

Every error the API answers has one body, `{"code", "message", "detail"}` (`core.api.exception_handler`), declared
once as the `Error` component. `ApiAutoSchema` documents the error statuses that follow from how an operation is
wired, whatever its view does:
- 400 always: a malformed body, a NUL or lone surrogate in the query or a header (`core.middleware`), bad input;
- 401 when the view authenticates (a wrong or expired token is refused even where anonymous calls are allowed);
- 403 when a session may authenticate an unsafe method (the CSRF check);
- 404 when the path names a row, or the list is paginated (a page past the end);
- 415 when it takes a body (a content type other than JSON, form or multipart);
- 429 when the view throttles.
The errors an operation's own rules raise (a 404 for an id in the body, 409 illegal transition, 422 rule refused,
503 an outside service down)
are declared by the operation itself, with `errors(...)` in its `extend_schema(responses=...)`.
"""
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import SAFE_METHODS


@extend_schema_serializer(component_name="Error")
class ErrorOutput(serializers.Serializer):
    code = serializers.CharField(help_text="稳定的错误码，客户端据此分支 stable error code clients switch on")
    message = serializers.CharField(help_text="给人看的说明 human-readable message (Chinese, then English)")
    detail = serializers.JSONField(allow_null=True, help_text="补充信息：字段错误等 details (field errors...), or null")


ERROR_DESCRIPTIONS = {
    400: "请求有误 Bad request: `invalid` (field errors in `detail`), `malformed_request`, `invalid_characters`, "
         "`too_deeply_nested` or an operation's own code",
    401: "未登录或凭证无效 Not authenticated: `not_authenticated`, `authentication_failed` or an operation's own code",
    403: "没有权限 Permission denied: `permission_denied` (a session without its CSRF token) or an operation's own "
         "code",
    404: "不存在 Not found: `not_found` (or a more precise `*_not_found`); for a list, a page past the end",
    409: "状态冲突 Conflict with the current state: `conflict`, `illegal_transition` or a more precise code",
    422: "不符合业务规则 Refused by a business rule: `rule_violated` or a more precise code",
    415: "不支持的内容类型 Unsupported media type: `unsupported_media_type` (send JSON, a form or multipart)",
    429: "请求过于频繁 Too many requests: `throttled` or a more precise code; `Retry-After` says when to retry",
    503: "暂时不可用 Service unavailable: an outside service (WeChat, a payment provider, the media storage) cannot "
         "answer now: `service_unavailable` or a more precise code; nothing was changed, try again shortly",
}


def error_response(status: int) -> OpenApiResponse:
    return OpenApiResponse(ErrorOutput, description=ERROR_DESCRIPTIONS[status])


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error statuses an operation's own rules can answer, for `extend_schema(responses={..., **errors(...)})`."""
    return {status: error_response(status) for status in statuses}


class ApiAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        missing = [status for status in self._wired_error_statuses(operation) if str(status) not in responses]
        if missing:
            reference = self.resolve_serializer(ErrorOutput, "response").ref
            for status in missing:
                responses[str(status)] = {"content": {"application/json": {"schema": reference}},
                                          "description": ERROR_DESCRIPTIONS[status]}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _wired_error_statuses(self, operation: dict) -> list[int]:
        statuses = [400]
        authenticators = self.view.get_authenticators()
        if authenticators:
            statuses.append(401)
        if self.method not in SAFE_METHODS and any(isinstance(a, SessionAuthentication) for a in authenticators):
            statuses.append(403)
        in_path = any(parameter.get("in") == "path" for parameter in operation.get("parameters", []))
        if in_path or (self.method == "GET" and self._is_list_view() and self._get_paginator() is not None):
            statuses.append(404)
        if "requestBody" in operation:
            statuses.append(415)
        if self.view.get_throttles():
            statuses.append(429)
        return statuses
