"""Cross-site request forgery (CSRF) protection: tokens, origin checks, and the route guard.

Threat model: a browser attaches cookies (the session) to requests that another site makes
it send: a hidden form posting to ``/account/delete``, a script submitting ``fetch`` to it. The
server then sees an authenticated request the user never meant. Defences, in order:

1. ``Sec-Fetch-Site: cross-site`` (sent by modern browsers) or an ``Origin`` header naming
   another site than this one means the request came from another site's page: refused.
2. Double-submit token: the ``csrftoken`` cookie holds a random secret; forms and scripts
   send it back, masked, in the ``csrf_token`` field or the ``X-CSRF-Token`` header. Another
   site can make the browser *send* the cookie but cannot *read* it (same-origin policy), so
   it cannot put the matching token in the request.

Masking (a fresh random pad XOR-ed with the secret for every render) keeps the token in an
HTML page different on each response, so compression side channels (BREACH) cannot recover
it byte by byte.

Ambient credentials are what a browser attaches by itself: cookies, and an ``Authorization``
header of a scheme it handles on its own (it resends cached ``Basic``, ``Digest``, ``NTLM`` or
``Negotiate`` credentials to every request to the site). Only requests carrying them are
checked. Requests authenticated by a token scheme (``Authorization: Bearer``/``Token``/
``Api-Key``, the schemes an ``Auth`` accepts, or an ``X-API-Key`` header) are sent
deliberately by a script (a browser never adds those; another site would need CORS
permission to set them), so they are not checked.

Strict routes (``csrf="strict"``: login and logout) run the origin check on every unsafe
request, cookies or not. Threat: login CSRF. A cross-site form carries no ``SameSite=Lax``
cookie, yet it can post the *attacker's* credentials to the login route, and the session
cookie in the answer then logs the victim's browser into the attacker's account.

Websocket handshakes carrying cookies get the origin check too (:meth:`CsrfGuard.websocket`).
Threat: cross-site websocket hijacking. Browsers apply no same-origin policy to websockets,
so another site's script could open one with the user's cookies and read the answers.

The functions at the top are pure (no IO) and tested without an event loop.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from prow._cookies import SetCookie
from prow._exceptions import HTTPError
from prow._formdata import FORM_MEDIA_TYPES, URLENCODED
from prow.scope import CSRF_SECRET, HEADERS

if TYPE_CHECKING:
    from prow._request import HTTPConnection, Request
    from prow._types import Scope

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "CsrfGuard",
    "check_origin",
    "check_token",
    "csrf_token",
    "mask_token",
    "new_secret",
    "unmask_token",
]

#: Form field that carries the token in HTML forms.
CSRF_FIELD = "csrf_token"
#: Header that carries the token for JavaScript clients (lower-case, as ASGI delivers it).
CSRF_HEADER = "x-csrf-token"
#: Cookie holding the unmasked secret.
CSRF_COOKIE = "csrftoken"

UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
_SECRET_BYTES = 32
_SECRET_LENGTH = 43  # urlsafe base64 of 32 bytes, unpadded
_MASKED_LENGTH = 86  # pad + masked secret, 64 bytes
_COOKIE_MAX_AGE = 365 * 24 * 3600
#: ``Authorization`` schemes a browser never sends on its own (lower-case).
TOKEN_SCHEMES = frozenset(("bearer", "token", "api-key"))

#: A route's ``csrf`` option: ``True`` (the default), ``False`` (exempt) or ``"strict"``.
CsrfMode = bool | Literal["strict"]


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def new_secret() -> str:
    """A fresh cookie secret: 32 random bytes, urlsafe base64."""
    return _b64encode(secrets.token_bytes(_SECRET_BYTES))


def is_secret(value: str | None) -> bool:
    """Whether a cookie value has the shape of a secret (anything else is replaced)."""
    if value is None or len(value) != _SECRET_LENGTH:
        return False
    raw = _b64decode(value)
    return raw is not None and len(raw) == _SECRET_BYTES


def mask_token(secret: str) -> str:
    """A token for ``secret`` that differs on every call: ``pad + (pad XOR secret)``."""
    raw = _b64decode(secret)
    if raw is None or len(raw) != _SECRET_BYTES:
        raise ValueError("not a CSRF secret")
    pad = secrets.token_bytes(_SECRET_BYTES)
    return _b64encode(pad + bytes(a ^ b for a, b in zip(pad, raw, strict=True)))


def unmask_token(token: str) -> bytes | None:
    """The secret bytes inside a submitted token (masked or the raw cookie value), or None."""
    raw = _b64decode(token) if len(token) in (_SECRET_LENGTH, _MASKED_LENGTH) else None
    if raw is None:
        return None
    if len(raw) == _SECRET_BYTES:
        return raw
    if len(raw) != 2 * _SECRET_BYTES:
        return None
    pad, masked = raw[:_SECRET_BYTES], raw[_SECRET_BYTES:]
    return bytes(a ^ b for a, b in zip(pad, masked, strict=True))


def check_token(cookie: str | None, submitted: str | None) -> str | None:
    """Why the double-submit check fails, or None when the token matches the cookie."""
    if not is_secret(cookie):
        return "CSRF cookie not set"
    if not submitted:
        return (
            f"CSRF token missing: send it in the {CSRF_HEADER!r} header "
            f"or the {CSRF_FIELD!r} form field"
        )
    assert cookie is not None
    expected = _b64decode(cookie)
    found = unmask_token(submitted)
    if found is None or expected is None or not hmac.compare_digest(found, expected):
        return "CSRF token incorrect"
    return None


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` lower-cased, without the scheme's default port."""
    origin = origin.strip().lower().rstrip("/")
    for scheme, port in (("http://", ":80"), ("https://", ":443")):
        if origin.startswith(scheme) and origin.endswith(port):
            return origin[: -len(port)]
    return origin


def check_origin(
    origin: str | None, fetch_site: str | None, own_origin: str, trusted: frozenset[str]
) -> str | None:
    """Why the request looks cross-site, or None. ``trusted`` holds normalised origins."""
    found = None if origin is None else normalise_origin(origin)
    if found is not None and found in trusted:
        return None
    site = None if fetch_site is None else fetch_site.strip().lower()
    if site in ("cross-site", "same-site"):
        # same-site: a sibling origin (another subdomain), which may be less trusted.
        shown = origin if origin is not None else "unknown origin"
        return f"cross-site request (Sec-Fetch-Site: {site}, Origin {shown})"
    if found is not None and found != normalise_origin(own_origin):
        return f"cross-site request (Origin {origin})"
    return None


def auth_scheme(value: bytes) -> str:
    """The lower-cased scheme of an ``Authorization`` value (``"basic"``, ``"bearer"``...)."""
    return value.strip().partition(b" ")[0].decode("latin-1").lower()


_CREDENTIAL_HEADERS = frozenset((b"cookie", b"authorization", b"x-api-key"))
#: ``Authorization`` schemes a browser resends on its own once the user has logged in with them.
AMBIENT_SCHEMES = frozenset({"basic", "digest", "ntlm", "negotiate"})


def own_origin(scope: Scope) -> str:
    """This request's own origin, from its scheme and Host header."""
    scheme = scope.get("scheme", "http")
    # A websocket's scope says ws/wss, but the browser's Origin names the page: http/https.
    scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    for key, value in scope["headers"]:
        if key == b"host":
            return f"{scheme}://{value.decode('latin-1')}"
    server = scope.get("server")
    if server:
        return f"{scheme}://{server[0]}:{server[1]}"
    return f"{scheme}://"


# -- the request side --------------------------------------------------------------------


def csrf_token(request: HTTPConnection) -> str:
    """A masked CSRF token for this request's browser, setting the cookie when needed.

    Put it in forms as the ``csrf_token`` field or send it as the ``X-CSRF-Token`` header.
    It changes on every call; every one stays valid as long as the cookie does.
    """
    scope = request.scope
    secret: str | None = scope.get(CSRF_SECRET)
    if secret is None:
        cookie = request.cookies.get(CSRF_COOKIE)
        if is_secret(cookie):
            secret = cookie
        else:
            secret = new_secret()
            extra = scope.get(HEADERS)
            if extra is not None:  # AppHeaders: a new list; AppSend (a middleware's copy of
                # the scope may be all this code sees): itself, changed for every copy
                scope[HEADERS] = extra.add_header(*_set_cookie(scope, secret))
        scope[CSRF_SECRET] = secret
    assert secret is not None
    return mask_token(secret)


# Not HttpOnly: a script may read the cookie and send it as the header (like Django).
# Reading it needs same-origin script access, which is exactly what another site lacks.
# Rendered once: a response that sets the cookie only adds the secret.
_COOKIES = {
    secure: SetCookie(CSRF_COOKIE, max_age=_COOKIE_MAX_AGE, path="/", samesite="lax", secure=secure)
    for secure in (False, True)
}


def _set_cookie(scope: Scope, secret: str) -> tuple[bytes, bytes]:
    cookie = _COOKIES[scope.get("scheme") == "https"]
    return (b"set-cookie", cookie.render(secret).encode("latin-1"))


class CsrfGuard:
    """The check a route runs before its handler, built once per app."""

    __slots__ = ("token_schemes", "trusted")

    def __init__(self, trusted_origins: Iterable[str] = ()) -> None:
        if isinstance(trusted_origins, str):
            raise TypeError("csrf_trusted_origins must be a list of origins, not one string")
        self.trusted = frozenset(normalise_origin(origin) for origin in trusted_origins)
        #: ``Authorization`` schemes that mark a request as token-authenticated (exempt).
        self.token_schemes = TOKEN_SCHEMES

    def add_token_schemes(self, schemes: Iterable[str]) -> None:
        """Exempt more ``Authorization`` schemes (``Auth(token_schemes=...)`` adds its own)."""
        self.token_schemes = self.token_schemes | {scheme.lower() for scheme in schemes}

    def applies(self, scope: Scope, strict: bool = False) -> bool:
        """Whether the request must pass :meth:`check`: an unsafe method carrying ambient
        credentials (any on a strict route) and no token credentials. Cheap and synchronous,
        so most requests stop here."""
        if scope["method"] not in UNSAFE_METHODS:
            return False
        ambient = strict
        for key, value in scope["headers"]:
            if key not in _CREDENTIAL_HEADERS:
                continue  # one set lookup per header: this runs for every unsafe request
            if key == b"x-api-key":
                return False
            if key == b"cookie":
                ambient = True
            else:
                scheme = auth_scheme(value)
                if scheme in self.token_schemes:
                    return False
                # Basic, Digest, NTLM, Negotiate: the browser resends them by itself. Any
                # other scheme only a script sets, which a cross-site form cannot do.
                ambient = ambient or scheme in AMBIENT_SCHEMES
        return ambient

    async def check(self, request: Request, strict: bool = False) -> None:
        """Raise 403 when an unsafe request with ambient credentials (or any request on a
        strict route) fails the CSRF checks."""
        scope = request.scope
        if not self.applies(scope, strict):
            return
        view = request.headers
        reason = check_origin(
            view.get("origin"), view.get("sec-fetch-site"), own_origin(scope), self.trusted
        )
        if reason is None and not (strict and _credential_free(scope)):
            submitted = view.get(CSRF_HEADER) or await _form_token(request)
            reason = check_token(request.cookies.get(CSRF_COOKIE), submitted)
        if reason is not None:
            raise HTTPError(403, reason, title="CSRF check failed")

    def websocket(self, scope: Scope, strict: bool = False) -> str | None:
        """Why a websocket handshake looks cross-site, or None. Only handshakes carrying
        cookies are checked (any, on a strict route); websockets have no CSRF token."""
        origin = fetch_site = None
        ambient = strict
        for key, value in scope["headers"]:
            if key == b"cookie":
                ambient = True
            elif key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"sec-fetch-site":
                fetch_site = value.decode("latin-1")
        if not ambient:
            return None
        return check_origin(origin, fetch_site, own_origin(scope), self.trusted)


def _credential_free(scope: Scope) -> bool:
    # A strict route's request without cookies or Authorization has no token to compare
    # (a first login from a fresh browser): the origin check is all there is.
    return not any(key in (b"cookie", b"authorization") for key, _ in scope["headers"])


async def _form_token(request: Request) -> str | None:
    content_type = request.content_type
    if content_type not in FORM_MEDIA_TYPES:
        return None
    if content_type == URLENCODED:
        # Cache the raw body first: the handler may still read request.body() as well as
        # the form (the form parser reads from the cached body).
        await request.body()
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None
