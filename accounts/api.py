"""Auth and profile endpoints of the mini-program client. Token authentication: `Authorization: Token <access token>`
(accounts/authentication.py); access tokens expire and are renewed with the refresh token (accounts/tokens.py)."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from accounts import services
from accounts import tokens as tokens_service
from accounts.models import AuthSession
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
    phone = serializers.CharField(source="masked_phone", help_text="打码的手机号；未绑定时为空 masked phone, empty "
                                                                   "until one is bound")
    nickname = serializers.CharField()
    avatar_url = serializers.CharField()
    role = serializers.CharField()


TOKEN_FIELDS = ("token_type", "access_token", "expires_in", "access_expires_at", "refresh_token", "refresh_expires_at")


@extend_schema_serializer(component_name="TokenPairOutput")
class TokenPairOutput(serializers.Serializer):
    token_type = serializers.CharField(help_text="Authorization 头的方案 the Authorization scheme: `Token`")
    access_token = serializers.CharField(help_text="访问令牌 sent as `Authorization: Token <access_token>`")
    expires_in = serializers.IntegerField(help_text="访问令牌有效秒数 seconds the access token lives")
    access_expires_at = serializers.DateTimeField()
    refresh_token = serializers.CharField(help_text="刷新令牌：只用于 POST /api/v1/auth/refresh，只能用一次 "
                                                    "for POST /api/v1/auth/refresh only, once")
    refresh_expires_at = serializers.DateTimeField()


class LoginOutputBase(TokenPairOutput):
    created = serializers.BooleanField(help_text="首次登录时新建了账号 a new account was created by this login")
    user = UserOutput()

    def to_representation(self, result):
        data = TokenPairOutput(result.tokens).data
        data.update(created=result.created, user=UserOutput(result.user).data)
        return data


def client_label(request) -> str:
    """How the admin tells one device's session from another's: the client's User-Agent."""
    return request.headers.get("User-Agent", "")


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
    """验证码登录 Log in (or sign up) with the phone and its one-time code; answers a token pair for this device."""

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
    class Output(LoginOutputBase):
        pass

    @extend_schema(summary="验证码登录 Log in with a code", request=Input, responses={200: Output, **errors(403)},
                   tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.login_with_code(**data.validated_data, client=client_label(request))
        return Response(self.Output(result).data)


class TokenRefreshApi(APIView):
    """刷新令牌 Exchange the refresh token for a new access and refresh token. The old pair stops working at once;
    a refresh token used a second time ends its session (`refresh_token_reused`): log in again."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token_refresh"

    @extend_schema_serializer(component_name="TokenRefreshInput")
    class Input(serializers.Serializer):
        refresh_token = serializers.RegexField(r"^[A-Za-z0-9_\-]{20,128}$", max_length=128, error_messages={
            "invalid": _("not a refresh token")})

    @extend_schema(summary="刷新令牌 Refresh the tokens", request=Input,
                   responses={200: TokenPairOutput, **errors(401, 403)}, tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = tokens_service.auth_session_refresh(refresh_token=data.validated_data["refresh_token"])
        return Response(TokenPairOutput(tokens).data)


class LogoutApi(APIView):
    """退出登录 End this device's session (its access and refresh tokens stop working), or every session of the
    account with `all_devices`."""

    permission_classes = [IsAuthenticated]

    @extend_schema_serializer(component_name="LogoutInput")
    class Input(serializers.Serializer):
        all_devices = serializers.BooleanField(required=False, default=False)

    @extend_schema(summary="退出登录 Log out", request=Input, responses={204: None}, tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        session = request.auth if isinstance(request.auth, AuthSession) else None
        services.logout(user=request.user, session=session, everywhere=data.validated_data["all_devices"])
        return Response(status=204)


def wechat_code_field() -> serializers.RegexField:
    """The one-time code a WeChat client API hands the mini-program (wx.login, the phone-number button)."""
    return serializers.RegexField(r"^[A-Za-z0-9_\-]{1,128}$", max_length=128, error_messages={
        "invalid": _("not a WeChat code")})


class WechatLoginApi(APIView):
    """微信登录 Log in (or sign up) with the code of `wx.login()`. The openid is bound to the account; a new shopper
    has no phone until they authorise one (POST /api/v1/auth/wechat/phone). 404 while WeChat login is not
    configured."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema_serializer(component_name="WechatLoginInput")
    class Input(serializers.Serializer):
        code = wechat_code_field()

    @extend_schema_serializer(component_name="WechatLoginOutput")
    class Output(LoginOutputBase):
        pass

    @extend_schema(summary="微信登录 Log in with WeChat", request=Input,
                   responses={200: Output, **errors(403, 404, 503)}, tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.wechat_login(code=data.validated_data["code"], client=client_label(request))
        return Response(self.Output(result).data)


class WechatPhoneApi(APIView):
    """绑定微信手机号 Make the phone number the user authorised in WeChat (the code of the phone-number button)
    this account's phone. A number held by another account is refused (`phone_taken`). 404 while WeChat login is
    not configured."""

    permission_classes = [IsAuthenticated]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "wechat_phone"

    @extend_schema_serializer(component_name="WechatPhoneInput")
    class Input(serializers.Serializer):
        code = wechat_code_field()

    @extend_schema(summary="绑定微信手机号 Bind the WeChat phone number", request=Input,
                   responses={200: UserOutput, **errors(404, 409, 503)}, tags=["auth"])
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.wechat_phone_bind(user=request.user, code=data.validated_data["code"])
        return Response(UserOutput(user).data)


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
