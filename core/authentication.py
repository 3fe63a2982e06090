"""What authentication classes share. Kept apart from core.api: DRF imports the authentication classes while
`rest_framework.views` is still loading, so they cannot import anything that imports the views."""
from rest_framework import exceptions


class AuthenticationRefused(exceptions.AuthenticationFailed):
    """What an authentication class raises to refuse credentials with a code of its own (`token_expired`, so a
    client knows to refresh rather than log in again); `core.api.exception_handler` renders that code. DRF still
    treats it as a failed authentication: a 401 with the class's `WWW-Authenticate` scheme."""

    def __init__(self, message, *, code: str):
        super().__init__(detail=message, code=code)
        self.stable_code = code
        self.message = message
