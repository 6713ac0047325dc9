"""JWT access and refresh tokens (PyJWT), with the attacks on JWTs closed off.

Threats and defences:

* ``alg: none`` and algorithm confusion (an RS256 public key used as an HS256 secret, or
  the reverse): the algorithm is pinned (``HS256``) and never read from the token.
* A token signed with another key, or tampered with: the signature is checked.
* A stolen old token: ``exp`` is required and checked; ``nbf`` and ``iat`` too (a token
  "issued" in the future is refused).
* A refresh token (long-lived) used as an access token, or the reverse: the ``typ``
  claim must be the expected one.
* A token outliving a password change: the ``pwd`` claim is a fingerprint of the user's
  password hash at issue time; changing the password invalidates every earlier token.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from typing import Any, Literal

import jwt

__all__ = ["ALGORITHM", "TokenError", "decode_token", "encode_token", "password_fingerprint"]

ALGORITHM = "HS256"
TokenType = Literal["access", "refresh"]
_REQUIRED = ["exp", "iat", "nbf", "sub", "typ"]


class TokenError(Exception):
    """A token was refused; the message says why, without revealing secrets."""


def encode_token(
    key: bytes,
    *,
    subject: str,
    typ: TokenType,
    lifetime: datetime.timedelta,
    fingerprint: str,
    issuer: str | None = None,
) -> str:
    """A signed JWT for ``subject`` (the user id) of type ``typ``."""
    now = datetime.datetime.now(datetime.UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "typ": typ,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(12),
        "pwd": fingerprint,
    }
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def decode_token(
    key: bytes,
    token: str,
    *,
    typ: TokenType,
    leeway: float = 0,
    issuer: str | None = None,
) -> dict[str, Any]:
    """The claims of ``token``; raises :class:`TokenError` unless it is valid and of ``typ``."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: the token's own "alg" header is not trusted
            options={"require": _REQUIRED},
            leeway=leeway,
            issuer=issuer,
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenError("the token is not valid yet") from None
    except jwt.InvalidAlgorithmError:
        raise TokenError(f"the token is not signed with {ALGORITHM}") from None
    except jwt.InvalidSignatureError:
        raise TokenError("the token's signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise TokenError(f"the token has no {exc.claim!r} claim") from None
    except jwt.InvalidTokenError:
        raise TokenError("the token is malformed") from None
    if claims.get("typ") != typ:
        raise TokenError(
            f"{_article(claims.get('typ'))} token cannot be used as {_article(typ)} token"
        )
    return claims


def _article(word: Any) -> str:
    text = str(word)
    return f"an {text}" if text[:1] in "aeiou" else f"a {text}"


def password_fingerprint(key: bytes, password_hash: str) -> str:
    """A short keyed digest of a password hash: changes whenever the password does."""
    digest = hmac.new(key, password_hash.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:16]
