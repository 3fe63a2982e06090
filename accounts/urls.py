from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/code", api.LoginCodeSendApi.as_view(), name="auth-code"),
    path("auth/login", api.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", api.TokenRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutApi.as_view(), name="auth-logout"),
    path("auth/wechat/login", api.WechatLoginApi.as_view(), name="auth-wechat-login"),
    path("auth/wechat/phone", api.WechatPhoneApi.as_view(), name="auth-wechat-phone"),
    path("me", api.MeApi.as_view(), name="me"),
]
