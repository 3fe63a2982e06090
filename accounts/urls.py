from django.urls import path

from accounts import api

urlpatterns = [
    path("auth/code", api.LoginCodeSendApi.as_view(), name="auth-code"),
    path("auth/login", api.LoginApi.as_view(), name="auth-login"),
    path("auth/logout", api.LogoutApi.as_view(), name="auth-logout"),
    path("me", api.MeApi.as_view(), name="me"),
]
