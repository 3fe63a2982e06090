"""Comparing a signature someone sent with the one we computed, for every signed callback (payment providers,
carrier tracking pushes)."""
import hmac


def signature_matches(expected: str, given) -> bool:
    """Constant-time comparison of bytes, never of text: a header arrives as Latin-1 text and may hold anything, and
    `hmac.compare_digest` refuses non-ASCII text. A non-ASCII or empty signature is simply a wrong one."""
    if not given or not isinstance(given, str | bytes):
        return False
    given_bytes = given.encode("latin-1", errors="replace") if isinstance(given, str) else given
    return hmac.compare_digest(expected.encode(), given_bytes)
