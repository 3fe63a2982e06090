"""API tokens that expire: one session per login and device, a short-lived access token, a long-lived refresh token.

Why our own and not a library: djangorestframework-simplejwt's access tokens are JWTs that cannot be revoked at
logout without a lookup per request, and its blacklist app stores refresh tokens in clear; django-rest-knox stores
hashes and is revocable per device, but has no refresh token (it can only extend a token's expiry on use, a write
per request) and looks at every token of the user on each request. What we need is small: two random tokens per
session, stored as SHA-256 hashes (each token is 256 random bits, so a plain hash cannot be reversed and a leaked
table holds no working token), one indexed lookup per request, rotation with reuse detection.

- `auth_session_start` (in the login's transaction) issues a pair; login answers it.
- `AccessTokenAuthentication` (accounts/authentication.py) finds the session by the access token's hash: one
  statement, no write.
- `auth_session_refresh` exchanges a refresh token for a new pair (both hashes replaced: the old pair stops working)
  and keeps the spent refresh token's hash; a spent refresh token presented again revokes the whole session: either
  the client or a thief used it first, and we cannot tell which, so both lose it (OAuth 2.0 Security BCP, refresh
  token rotation). A client must therefore not send two refreshes of one session at once.
- `auth_session_revoke` / `auth_sessions_revoke_for_user` end sessions (logout, logout everywhere, operator).
- `auth_sessions_purge` deletes sessions ended longer than AUTH_SESSION_RETENTION ago (beat, every 6 hours).
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import AuthSession, SpentRefreshToken, User
from core.errors import NotAuthenticated, PermissionDenied
from core.events import record_event

TOKEN_TYPE = "Token"  # noqa: S105  (the Authorization scheme, not a secret: `Authorization: Token <access token>`)
CLIENT_MAX_LENGTH = 200


def token_new() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenPair:
    session_id: int
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    token_type: str = TOKEN_TYPE

    @property
    def expires_in(self) -> int:
        """Seconds the access token lives, as OAuth clients expect it."""
        return int(settings.AUTH_ACCESS_TOKEN_TTL.total_seconds())


def _pair_new(*, now: datetime) -> tuple[str, str, dict]:
    access, refresh = token_new(), token_new()
    fields = {"access_hash": token_hash(access), "access_expires_at": now + settings.AUTH_ACCESS_TOKEN_TTL,
              "refresh_hash": token_hash(refresh), "refresh_expires_at": now + settings.AUTH_REFRESH_TOKEN_TTL}
    return access, refresh, fields


def auth_session_start(*, user: User, method: str, client: str = "") -> TokenPair:
    """A new session (a login on a device) with its first token pair. Runs in the caller's transaction."""
    now = timezone.now()
    access, refresh, fields = _pair_new(now=now)
    session = AuthSession.objects.create(user=user, method=method, client=(client or "")[:CLIENT_MAX_LENGTH],
                                         **fields)
    return TokenPair(session_id=session.pk, access_token=access, access_expires_at=fields["access_expires_at"],
                     refresh_token=refresh, refresh_expires_at=fields["refresh_expires_at"])


def auth_session_refresh(*, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair. Raises NotAuthenticated (`refresh_token_invalid`,
    `refresh_token_expired`, `refresh_token_reused`: the session is revoked) or PermissionDenied
    (`account_disabled`). A refusal that revokes the session commits the revocation before it is raised."""
    presented = token_hash(refresh_token or "")
    now = timezone.now()
    with transaction.atomic():
        session = (AuthSession.objects.select_for_update(of=("self",)).select_related("user")
                   .filter(refresh_hash=presented).first())
        if session is None:
            spent = SpentRefreshToken.objects.filter(token_hash=presented).values_list("session_id", flat=True).first()
            if spent is not None:
                _revoke(session_ids=[spent], reason=AuthSession.RevokedReason.REFRESH_REUSED, now=now)
                outcome = "reused"
            else:
                outcome = "unknown"
        elif session.revoked_at is not None:
            outcome = "unknown"
        elif session.refresh_expires_at <= now:
            outcome = "expired"
        elif not session.user.is_active:
            outcome = "disabled"
        else:
            SpentRefreshToken.objects.create(session=session, token_hash=presented, spent_at=now)
            access, refresh, fields = _pair_new(now=now)
            AuthSession.objects.filter(pk=session.pk).update(**fields, refreshed_at=now, updated_at=now,
                                                             refresh_count=session.refresh_count + 1)
            outcome = "ok"
    if outcome == "ok":
        return TokenPair(session_id=session.pk, access_token=access, access_expires_at=fields["access_expires_at"],
                         refresh_token=refresh, refresh_expires_at=fields["refresh_expires_at"])
    if outcome == "reused":
        raise NotAuthenticated(_("this refresh token was already used; the session has ended, log in again"),
                               code="refresh_token_reused")
    if outcome == "expired":
        raise NotAuthenticated(_("the refresh token has expired; log in again"), code="refresh_token_expired")
    if outcome == "disabled":
        raise PermissionDenied(_("this account is disabled"), code="account_disabled")
    raise NotAuthenticated(_("invalid refresh token; log in again"), code="refresh_token_invalid")


def _revoke(*, session_ids: list[int], reason: str, now: datetime) -> int:
    sessions = AuthSession.objects.filter(pk__in=session_ids, revoked_at__isnull=True)
    revoked = list(sessions.values_list("pk", "user_id"))
    sessions.update(revoked_at=now, revoked_reason=reason, updated_at=now)
    for session_id, user_id in revoked:
        record_event(kind="auth_session_revoked", actor_id=user_id, object_type=AuthSession._meta.label_lower,
                     object_id=session_id, payload={"reason": reason})
    return len(revoked)


def auth_session_revoke(*, session_id: int, reason: str = AuthSession.RevokedReason.LOGOUT) -> bool:
    """End one session: its access and refresh tokens stop working. False when it had ended already."""
    with transaction.atomic():
        return _revoke(session_ids=[session_id], reason=reason, now=timezone.now()) == 1


def auth_sessions_revoke_for_user(*, user: User, reason: str = AuthSession.RevokedReason.LOGOUT_ALL) -> int:
    """End every session of a user (logout everywhere)."""
    with transaction.atomic():
        ids = list(AuthSession.objects.filter(user=user, revoked_at__isnull=True).values_list("pk", flat=True))
        return _revoke(session_ids=ids, reason=reason, now=timezone.now())


def auth_sessions_purge(*, batch_size: int = 5000) -> int:
    """Delete sessions (and their spent refresh tokens) that ended more than AUTH_SESSION_RETENTION ago: revoked
    then, or whose refresh token expired then. Returns how many sessions went."""
    cutoff = timezone.now() - settings.AUTH_SESSION_RETENTION
    ended = Q(revoked_at__lt=cutoff) | Q(refresh_expires_at__lt=cutoff)
    deleted = 0
    while True:
        ids = list(AuthSession.objects.filter(ended).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            SpentRefreshToken.objects.filter(session_id__in=ids).delete()
            deleted += AuthSession.objects.filter(pk__in=ids).delete()[1].get(AuthSession._meta.label, 0)
