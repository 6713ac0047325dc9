"""Security settings worked out once at start-up: response headers, signing keys, hosts.

Everything here is computed when the app is built; a request only picks a precomputed list.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from prow._exceptions import ConfigurationError
from prow._types import Message, Scope, Send
from prow.scope import HEADERS, HeaderList, with_extra_headers

__all__ = [
    "CREDENTIAL_HEADERS",
    "DOCS_CSP",
    "ERROR_CSP",
    "REDOC_CSP",
    "AppHeaders",
    "AppSend",
    "SecurityHeaders",
    "SigningKeys",
    "app_headers",
    "build_header_lists",
    "csp_header",
    "error_page_csp",
    "key_weakness",
    "needs_no_store",
    "wrap_send",
]

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
    * ``Content-Security-Policy`` is not sent by default on the app's own pages: a policy
      must fit their scripts and styles. ``SecurityHeaders.STRICT_CSP`` allows only this
      origin's scripts, styles, images, fonts and requests; a string or a mapping of
      directives (``{"img-src": ["'self'", "data:"]}``) sets another. ``frame-ancestors
      'none'`` is added when ``frame_options`` is ``DENY`` and the policy names no frame
      ancestors. prow's own pages (``/docs``, ``/redoc``, error answers) always send a
      strict policy of their own, made for them.
    * ``Cache-Control: no-store`` (``no_store_credentialed``) on an answer that sets a cookie
      or answers a request carrying credentials (``Authorization``, ``X-API-Key``, cookies),
      unless the handler set a ``Cache-Control`` itself: a shared cache (a proxy, a CDN)
      must not keep one user's page, or a fresh session cookie, and serve it to another.
    """

    #: Only this origin's resources; no plugins, no ``<base>`` rewriting, forms post here.
    STRICT_CSP: ClassVar[str] = (
        "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )

    content_type_options: str | None = "nosniff"
    frame_options: str | None = "DENY"
    referrer_policy: str | None = "strict-origin-when-cross-origin"
    cross_origin_opener_policy: str | None = "same-origin"
    hsts: str | None = "max-age=31536000; includeSubDomains"
    content_security_policy: str | Mapping[str, str | Sequence[str]] | None = None
    no_store_credentialed: bool = True
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
        if policy is not None and not isinstance(policy, str):
            policy = csp_header(policy)
        if policy is None or "frame-ancestors" in policy:
            return policy
        if (self.frame_options or "").upper() == "DENY":
            return policy.rstrip("; ") + "; frame-ancestors 'none'"
        return policy


def csp_header(directives: Mapping[str, str | Sequence[str]]) -> str:
    """``{"default-src": "'self'", "img-src": ["'self'", "data:"]}`` as a header value."""
    parts = []
    for name, sources in directives.items():
        values = [sources] if isinstance(sources, str) else list(sources)
        parts.append(" ".join([name, *values]).strip())
    return "; ".join(parts)


# -- prow's own pages ------------------------------------------------------------------------
# Threat: script injection. If an attacker gets markup into one of these pages (a title, a
# schema description), the policy still stops it running: scripts load only from this origin,
# never inline, and nothing can frame the page, post its forms elsewhere or rewrite its URLs.

#: Swagger UI (``/docs``): its files, its requests to this API ("Try it out"), data: images.
DOCS_CSP = csp_header(
    {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": ["'self'", "data:"],
        "font-src": "'self'",
        "connect-src": "'self'",
        "form-action": "'self'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
)
#: ReDoc (``/redoc``): as Swagger UI, plus the styles it writes at run time and its search
#: worker (a blob: URL). Inline styles cannot run code.
REDOC_CSP = csp_header(
    {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": "'self'",
        "connect-src": "'self'",
        "worker-src": ["'self'", "blob:"],
        "form-action": "'none'",
        "base-uri": "'none'",
        "frame-ancestors": "'none'",
    }
)
#: Error answers (problem documents): nothing in them is meant to load or run anything.
ERROR_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def error_page_csp(style: str) -> str:
    """The policy of an HTML error page whose only resource is the inline ``style``."""
    digest = base64.b64encode(hashlib.sha256(style.encode("utf-8")).digest()).decode("ascii")
    return f"{ERROR_CSP}; style-src 'sha256-{digest}'"


# -- Cache-Control: no-store on personal answers ----------------------------------------------

_CREDENTIALS = frozenset((b"authorization", b"cookie", b"x-api-key"))
#: The request headers that carry credentials, as parameter names (``Header()``/``Cookie()``).
CREDENTIAL_HEADERS = frozenset(name.decode("latin-1") for name in _CREDENTIALS)
NO_STORE = (b"cache-control", b"no-store")


def carries_credentials(scope: Scope) -> bool:
    """Whether the request sent credentials: an ``Authorization``/``X-API-Key`` header, cookies."""
    for name, _ in scope["headers"]:  # noqa: SIM110 - a loop beats any() over a few headers
        if name in _CREDENTIALS:
            return True
    return False


def needs_no_store(
    scope: Scope, response_headers: Sequence[tuple[bytes, bytes]], scan: bool = True
) -> bool:
    """Whether an answer must get ``Cache-Control: no-store`` (see ``SecurityHeaders``): it
    sets a cookie, or answers a request that carried credentials (``scan``: the route's
    handler could see them).

    A handler's own ``Cache-Control`` always stands (it knows whether the answer is
    personal). The request's headers are read only when the answer's do not decide.
    """
    sets_cookie = False
    for name, _ in response_headers:
        if name == b"cache-control":
            return False
        if name == b"set-cookie":
            sets_cookie = True
    return sets_cookie or (scan and carries_credentials(scope))


class AppHeaders(HeaderList):
    """The app's headers for one scheme, built once, and its no-store policy.

    ``scope["prow.headers"]`` of a request no middleware sees: prow's responses ask it for
    their final headers (:meth:`finish`, the fast path: no wrapper around ``send``).
    ``scan``: whether to look for credentials in the request. A route whose handler and
    dependencies cannot see them (no ``Request``, no credential cookie or header parameter)
    answers everyone alike; it switches to :attr:`impersonal`, the twin that skips the scan
    (an answer that sets a cookie still gets ``no-store``).
    """

    __slots__ = ("impersonal", "no_store", "scan")

    def __init__(
        self,
        headers: Sequence[tuple[bytes, bytes]] = (),
        *,
        no_store: bool,
        scan: bool = True,
        impersonal: AppHeaders | None = None,
    ) -> None:
        super().__init__(headers)
        self.no_store = no_store
        self.scan = scan and no_store
        self.impersonal: AppHeaders = impersonal or (
            AppHeaders(headers, no_store=no_store, scan=False) if self.scan else self
        )

    def finish(
        self, headers: list[tuple[bytes, bytes]], scope: Scope, plain: bool
    ) -> list[tuple[bytes, bytes]]:
        """A response's ``headers`` plus these (and ``no-store`` where it is personal).

        ``plain``: prow set every one of ``headers`` (no security header, cookie or
        ``Cache-Control`` among them), so they are only concatenated.
        """
        if plain:  # the fast path of every JSON answer: no call, one short loop
            if self.scan:
                for name, _ in scope["headers"]:
                    if name in _CREDENTIALS:
                        return [*headers, *self, NO_STORE]
            return headers + self
        merged = with_extra_headers(headers, self)
        personal = self.no_store and needs_no_store(scope, merged, self.scan)
        return [*merged, NO_STORE] if personal else merged

    def add_header(self, name: bytes, value: bytes) -> AppHeaders:
        """These headers and one more (the CSRF cookie): a new list, this one is shared."""
        return AppHeaders([*self, (name, value)], no_store=self.no_store, scan=self.scan)


class AppSend:
    """The app's ``send`` for an answer prow does not build itself: it adds the headers.

    Used when a middleware (which may answer on its own, or pass a copy of the scope) or a
    mounted app handles the request; it is then ``scope["prow.headers"]``, so prow's own
    responses leave the merge to it and :meth:`add_header` reaches it from a copy of the
    scope too. A header the response set itself wins over the app's of the same name
    (except ``Set-Cookie``, which may repeat).
    """

    __slots__ = ("headers", "scope", "send")

    def __init__(self, scope: Scope, send: Send, headers: AppHeaders) -> None:
        self.scope = scope
        self.send = send
        self.headers = headers

    @property
    def impersonal(self) -> AppSend:
        """Itself: this ``send`` answers for a middleware, which may read the credentials."""
        return self

    def finish(
        self, headers: list[tuple[bytes, bytes]], scope: Scope, plain: bool
    ) -> list[tuple[bytes, bytes]]:
        """Unchanged: this ``send`` adds the app's headers itself."""
        return headers

    def add_header(self, name: bytes, value: bytes) -> AppSend:
        """Send ``name: value`` with the answer too."""
        self.headers = self.headers.add_header(name, value)
        return self

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.get("headers", ())
            if type(headers) is not list:
                headers = [(bytes(name), bytes(value)) for name, value in headers]
            message["headers"] = self.headers.finish(headers, self.scope, plain=False)
        await self.send(message)


def wrap_send(scope: Scope, send: Send) -> Send:
    """``send`` adding the app's headers (``scope["prow.headers"]``), for an answer that
    does not come from prow's own responses; idempotent."""
    extra = scope.get(HEADERS)
    if type(extra) is not AppHeaders:
        return send  # no app headers, or already wrapped
    sender = scope[HEADERS] = AppSend(scope, send, extra)
    return sender


def app_headers(scope: Scope, headers: list[tuple[bytes, bytes]], plain: bool = False) -> Any:
    """The headers a prow response starts with: its own plus the app's."""
    extra = scope.get(HEADERS)
    return headers if extra is None else extra.finish(headers, scope, plain)


def build_header_lists(config: SecurityHeaders | None) -> tuple[AppHeaders, AppHeaders]:
    """The precomputed extra headers for HTTP and for HTTPS requests."""
    if config is None:
        return AppHeaders(no_store=False), AppHeaders(no_store=False)
    no_store = config.no_store_credentialed
    return (
        AppHeaders(config.headers(https=False), no_store=no_store),
        AppHeaders(config.headers(https=True), no_store=no_store),
    )


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
