"""`Authorization: Token <access token>`: the shopper API's authentication (settings REST_FRAMEWORK), and how the
OpenAPI schema names it (`tokenAuth`)."""
import re

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts import selectors
from accounts.tokens import TOKEN_TYPE
from core.authentication import AuthenticationRefused

# What our tokens look like (secrets.token_urlsafe(32) is 43 characters): anything else is refused without a query.
ACCESS_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_\-]{20,128}")


class AccessTokenAuthentication(BaseAuthentication):
    """Finds the session by the access token's hash (one statement, no write). An expired access token is refused
    with `token_expired` (the client refreshes); an unknown, revoked or malformed one with `authentication_failed`."""

    keyword = TOKEN_TYPE

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # another scheme (or none): not ours to judge
        if len(parts) != 2:
            raise AuthenticationRefused(_("invalid or expired credentials"), code="authentication_failed")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            token = ""
        if not ACCESS_TOKEN_PATTERN.fullmatch(token):
            raise AuthenticationRefused(_("invalid or expired credentials"), code="authentication_failed")
        session = selectors.auth_session_by_access_token(token=token)
        if session is None or session.revoked_at is not None:
            raise AuthenticationRefused(_("invalid or expired credentials"), code="authentication_failed")
        if session.access_expires_at <= timezone.now():
            raise AuthenticationRefused(_("the access token has expired; refresh it"), code="token_expired")
        if not session.user.is_active:
            raise AuthenticationRefused(_("this account is disabled"), code="account_disabled")
        return session.user, session

    def authenticate_header(self, request) -> str:
        return self.keyword


class AccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = AccessTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization"}
