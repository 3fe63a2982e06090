"""Auth and profile endpoints of the mini-program client. Token authentication: `Authorization: Token <key>`."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from accounts import services
from core.errors import ValidationFailed
from core.openapi import errors


class PhoneRateThrottle(SimpleRateThrottle):
    """Limits per phone number, whatever address the requests come from."""

    def get_cache_key(self, request, view):
        try:
            phone = services.phone_normalize(str(request.data.get("phone", "")))
        except (ValidationFailed, AttributeError):
            return None  # malformed input is refused by validation, not counted here
        return self.cache_format % {"scope": self.scope, "ident": phone}


class LoginCodeSendPhoneThrottle(PhoneRateThrottle):
    scope = "login_code_send"


class LoginPhoneThrottle(PhoneRateThrottle):
    scope = "login"


class PhoneField(serializers.CharField):
    def to_internal_value(self, data):
        raw = super().to_internal_value(data)
        try:
            return services.phone_normalize(raw)
        except ValidationFailed as error:
            raise serializers.ValidationError(error.message) from error


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    phone = serializers.CharField(source="masked_phone")
    nickname = serializers.CharField()
    avatar_url = serializers.CharField()
    role = serializers.CharField()


class LoginCodeSendApi(APIView):
    """发送登录验证码 Send a one-time login code by SMS."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle, LoginCodeSendPhoneThrottle]
    throttle_scope = "login_code_send"

    @extend_schema_serializer(component_name="LoginCodeSendInput")
    class Input(serializers.Serializer):
        phone = PhoneField(max_length=32)

    @extend_schema_serializer(component_name="LoginCodeSendOutput")
    class Output(serializers.Serializer):
        phone = serializers.CharField()
        expires_in_seconds = serializers.IntegerField()
        resend_after_seconds = serializers.IntegerField()

    @extend_schema(summary="发送登录验证码 Send a login code", request=Input, responses={202: Output}, tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        sent = services.login_code_send(phone=data.validated_data["phone"], client_ip=self._client_ip(request))
        return Response(self.Output(sent).data, status=202)

    def _client_ip(self, request) -> str | None:
        return request.META.get("REMOTE_ADDR")


class LoginApi(APIView):
    """验证码登录 Log in (or sign up) with the phone and its one-time code; returns an API token."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle, LoginPhoneThrottle]
    throttle_scope = "login"

    @extend_schema_serializer(component_name="LoginInput")
    class Input(serializers.Serializer):
        phone = PhoneField(max_length=32)
        code = serializers.RegexField(r"^\d{4,8}$", max_length=8, error_messages={
            "invalid": _("the code is digits only")})

    @extend_schema_serializer(component_name="LoginOutput")
    class Output(serializers.Serializer):
        token = serializers.CharField()
        created = serializers.BooleanField()
        user = UserOutput()

    @extend_schema(summary="验证码登录 Log in with a code", request=Input, responses={200: Output, **errors(403)},
                   tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_with_code(**data.validated_data)
        return Response(self.Output(result).data)


class LogoutApi(APIView):
    """退出登录 Revoke the API token."""

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="退出登录 Log out", request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        services.logout(user=request.user)
        return Response(status=204)


class MeApi(APIView):
    """我的资料 The logged-in user's profile."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="MeInput")
    class Input(serializers.Serializer):
        nickname = serializers.CharField(max_length=64, required=False, allow_blank=True)
        avatar_url = serializers.URLField(max_length=500, required=False, allow_blank=True)

    @extend_schema(summary="我的资料 Get my profile", responses={200: UserOutput}, tags=["auth"])
    def get(self, request):
        return Response(UserOutput(request.user).data)

    @extend_schema(summary="修改资料 Update my profile", request=Input, responses={200: UserOutput}, tags=["auth"])
    def patch(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update_profile(user=request.user, **data.validated_data)
        return Response(UserOutput(user).data)
