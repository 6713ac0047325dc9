"""Security settings worked out once at start-up: response headers, signing keys, hosts.

Everything here is computed when the app is built; a request only picks a precomputed list.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence

from prow._exceptions import ConfigurationError
from prow.scope import HeaderList

__all__ = ["SecurityHeaders", "SigningKeys", "build_header_lists", "key_weakness"]

logger = logging.getLogger("prow.security")

RawHeaders = list[tuple[bytes, bytes]]

#: The shortest secret key accepted (32 characters of a URL-safe random token: 192 bits).
MIN_KEY_LENGTH = 32
#: Fewer distinct characters than this means a key typed by hand ("aaaa...", "1234...").
MIN_KEY_CHARACTERS = 8
# Words that mark a key copied from an example or a template instead of generated: a key
# anyone can read in the same document signs nothing.
_PLACEHOLDER_MARKERS = (
    "change",
    "replace",
    "placeholder",
    "insecure",
    "example",
    "default",
    "dummy",
    "your-",
    "your_",
    "xxxx",
)
#: Headers each response sets for itself (see ``SecurityHeaders.__post_init__``).
_MANAGED = frozenset(
    ("content-type", "content-length", "content-disposition", "location", "set-cookie", "vary")
)


@dataclasses.dataclass(frozen=True, slots=True)
class SecurityHeaders:
    """The security headers added to every HTTP response; ``None`` leaves one out.

    A response that sets one of these headers itself keeps its own value. The defaults:

    * ``X-Content-Type-Options: nosniff`` stops browsers guessing a script out of an upload.
    * ``X-Frame-Options: DENY`` stops other sites framing the app (clickjacking).
    * ``Referrer-Policy: strict-origin-when-cross-origin`` keeps paths and query strings
      (tokens, ids) out of the Referer sent to other sites.
    * ``Cross-Origin-Opener-Policy: same-origin`` cuts the window link a page opened from
      another site could use to script or navigate it.
    * ``Strict-Transport-Security`` (sent on HTTPS requests only): browsers stop using plain
      HTTP for this host, so a network attacker cannot downgrade the connection.
    * ``Content-Security-Policy`` is not sent by default: a policy must fit the app's own
      scripts and styles (the ``/docs`` pages use inline scripts). Set one with
      ``content_security_policy="default-src 'self'"``; ``frame-ancestors 'none'`` is added
      when ``frame_options`` is ``DENY`` and the policy does not name frame ancestors.
    """

    content_type_options: str | None = "nosniff"
    frame_options: str | None = "DENY"
    referrer_policy: str | None = "strict-origin-when-cross-origin"
    cross_origin_opener_policy: str | None = "same-origin"
    hsts: str | None = "max-age=31536000; includeSubDomains"
    content_security_policy: str | None = None
    #: More headers to send on every response, e.g. ``{"Permissions-Policy": "camera=()"}``.
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Responses add these themselves, and the fast path of ``Response.__call__`` appends
        # the app's headers without looking for them: one set here would be sent twice.
        managed = [
            name
            for name, _ in self.extra
            if name.lower() in _MANAGED or name.lower().startswith("access-control-")
        ]
        if managed:
            raise ConfigurationError(
                "prow.E102",
                f"SecurityHeaders(extra=...) cannot set {', '.join(managed)}: responses set "
                "that header themselves; set it on the response instead",
            )

    def headers(self, *, https: bool) -> RawHeaders:
        """The raw header list for a plain-HTTP or an HTTPS request."""
        pairs: list[tuple[str, str | None]] = [
            ("x-content-type-options", self.content_type_options),
            ("x-frame-options", self.frame_options),
            ("referrer-policy", self.referrer_policy),
            ("cross-origin-opener-policy", self.cross_origin_opener_policy),
            ("content-security-policy", self._csp()),
        ]
        if https:
            pairs.append(("strict-transport-security", self.hsts))
        pairs.extend((name.lower(), value) for name, value in self.extra)
        return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs if v is not None]

    def _csp(self) -> str | None:
        policy = self.content_security_policy
        if policy is None or "frame-ancestors" in policy:
            return policy
        if (self.frame_options or "").upper() == "DENY":
            return policy.rstrip("; ") + "; frame-ancestors 'none'"
        return policy


def build_header_lists(config: SecurityHeaders | None) -> tuple[HeaderList, HeaderList]:
    """The precomputed extra headers for HTTP and for HTTPS requests."""
    if config is None:
        return HeaderList(), HeaderList()
    return HeaderList(config.headers(https=False)), HeaderList(config.headers(https=True))


class SigningKeys:
    """Per-feature keys derived from the app's secret key, checked at start-up.

    Each feature (sessions, CSRF, tokens) gets its own key derived with HMAC, so a value
    signed for one purpose can never be replayed as another.
    """

    def __init__(self, secret_key: str | None) -> None:
        self.secret_key = secret_key
        self._random: bytes | None = None

    def key(self, purpose: str, *, debug: bool) -> bytes:
        """The key for ``purpose``; raises ``prow.E100`` when there is no usable secret key.

        In debug mode a weak key is accepted and a missing one is replaced by a random
        per-process key; with debug off both stop start-up.
        """
        secret = self.secret_key
        problem = _key_problem(secret)
        if secret and (problem is None or debug):
            root = secret.encode("utf-8")
        elif debug:
            root = self._debug_key()
        else:
            raise ConfigurationError(
                "prow.E100",
                f"{purpose} needs a secret key, but {problem}. Pass App(secret_key=...) a long "
                "random value (an app made from settings, with create_app() or "
                "app_kwargs(settings), reads PROW_SECRET_KEY), e.g. from: python -c "
                '"import secrets; print(secrets.token_urlsafe(48))"',
            )
        return hmac.new(root, b"prow:" + purpose.encode("utf-8"), hashlib.sha256).digest()

    def _debug_key(self) -> bytes:
        if self._random is None:
            # Debug only: a random key per process means signed cookies do not survive a
            # restart, which is harmless in development and never allowed in production.
            self._random = secrets.token_bytes(32)
            logger.warning(
                "no secret_key set: using a random key for this process (debug mode only); "
                "sessions and CSRF cookies end when it stops"
            )
        return self._random


def key_weakness(key: str) -> str | None:
    """Why ``key`` is too weak to sign with, or ``None``; never repeats the key itself.

    One judgment for start-up (``prow.E100``) and ``prow check --deploy`` (``prow.E803``).
    """
    lowered = key.lower()
    if any(marker in lowered for marker in _PLACEHOLDER_MARKERS):
        return "it looks like a placeholder copied from an example"
    if len(key) < MIN_KEY_LENGTH:
        return f"{len(key)} characters, fewer than {MIN_KEY_LENGTH}"
    if len(set(key)) < MIN_KEY_CHARACTERS:
        return f"only {len(set(key))} different characters"
    return None


def _key_problem(secret: str | None) -> str | None:
    if not secret:
        return "no secret_key is set"
    weakness = key_weakness(secret)
    return None if weakness is None else f"the secret_key is weak ({weakness})"


def check_hosts(hosts: Sequence[str] | None) -> list[str] | None:
    """Validate ``allowed_hosts`` early: a single string is a common slip."""
    if hosts is None:
        return None
    if isinstance(hosts, str):
        raise ConfigurationError(
            "prow.E101", "allowed_hosts must be a list of host names, e.g. ['example.com']"
        )
    return list(hosts)
