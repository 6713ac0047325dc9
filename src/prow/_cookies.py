"""Cookies both ways: the ``Cookie`` header parsed once, ``Set-Cookie`` rendered in one place.

Reading: :func:`request_cookies` parses the ``Cookie`` header(s) the first time anything asks
(``request.cookies``, a ``Cookie()`` parameter, the session middleware, the CSRF check) and
keeps the result in the scope, so the others reuse it. A request that never reads a cookie
never gets here.

Writing: :class:`SetCookie` checks a cookie's name and attributes once and pre-renders them;
:meth:`SetCookie.render` adds the value per response. ``Response.set_cookie``, the session
cookie and the CSRF cookie all go through it, so they refuse the same mistakes:

* a name that is not an RFC 6265 token, or that is an attribute name (``path``, ``expires``...:
  Python's own cookie parser drops every cookie after one of those);
* a value, path, domain or ``expires`` text holding ``;`` or a control character (an attacker
  who controls the text could otherwise add attributes such as ``Domain`` to the cookie);
* ``samesite`` other than lax/strict/none, or ``samesite="none"`` / ``partitioned`` without
  ``secure`` (browsers drop such cookies without a word).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from http.cookies import SimpleCookie
from typing import Literal

from prow._types import Scope
from prow.scope import COOKIES

__all__ = [
    "InvalidCookie",
    "SameSite",
    "SetCookie",
    "parse_cookie_header",
    "request_cookies",
    "set_cookie_header",
]

SameSite = Literal["lax", "strict", "none"]

#: The scope key holding ``(headers, cookies)``: the parsed ``Cookie`` header and the header
#: list it came from (a middleware that replaces ``scope["headers"]`` gets a fresh parse).
SCOPE_KEY = COOKIES

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: a cookie name
# Attribute names: Python's SimpleCookie (still used by many servers) stops at a cookie named
# like one, losing every cookie after it, so prow never sets one.
_RESERVED = frozenset(
    ("expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version",
     "samesite", "partitioned")
)  # fmt: skip
_FORBIDDEN = re.compile(r"[;\x00-\x1f\x7f]")
# Values made only of these go out as they are; others are quoted (see _encode_value).
_PLAIN_BYTES = b"!#$%&'*+-.^_`|~:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_QUOTER = SimpleCookie()  # value_encode() keeps no state
_ESCAPE = re.compile(r"\\(?:([0-3][0-7][0-7])|(.))")
_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


# -- reading -----------------------------------------------------------------------------


def request_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, parsed on first use and then shared through the scope."""
    headers = scope["headers"]
    cached: tuple[object, dict[str, str]] | None = scope.get(SCOPE_KEY)
    if cached is not None and cached[0] is headers:
        return cached[1]
    # HTTP/2 and HTTP/3 clients may split cookies over several Cookie fields; they are
    # joined with "; " (RFC 9113 section 8.2.3).
    raw = b"; ".join([value for key, value in headers if key == b"cookie"])
    cookies = parse_cookie_header(raw.decode("latin-1"))
    scope[SCOPE_KEY] = (headers, cookies)
    return cookies


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header leniently: one malformed pair never loses the others.

    Pairs without ``=`` or a name are skipped; a quoted value is unquoted (with the octal
    escapes Python's quoting writes); when a name repeats, the last value wins.
    """
    # Not SimpleCookie: it gives up on the whole header at the first pair it dislikes (a
    # space in a value, a cookie named "path"...), which would drop the session with it.
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if sep and name:
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = _unquote(value[1:-1])
            cookies[name] = value
    return cookies


def _unquote(text: str) -> str:
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m[1], 8)) if m[1] else m[2], text)


# -- writing -----------------------------------------------------------------------------


class InvalidCookie(ValueError):
    """A cookie name, value or attribute that browsers would refuse or misread.

    ``field`` names the argument at fault (``"name"``, ``"value"``, ``"samesite"``...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class SetCookie:
    """One cookie's name and attributes, checked once and rendered once.

    :meth:`render` adds a value per response; that is the only per-response work, so a
    cookie whose attributes are fixed at start-up (the session, CSRF) costs nothing more.
    """

    __slots__ = ("_prefix", "_suffix", "name")

    def __init__(
        self,
        name: str,
        *,
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "lax",
        partitioned: bool = False,
    ) -> None:
        _check_name(name)
        self.name = name
        self._prefix = name + "="
        # The attributes in the order Python's SimpleCookie writes them (prow used it before).
        parts = [""]
        if domain is not None:
            parts.append("Domain=" + _check_domain(domain))
        if expires is not None:
            parts.append("Expires=" + _http_date(expires))
        if httponly:
            parts.append("HttpOnly")
        if max_age is not None:
            parts.append(f"Max-Age={_check_max_age(max_age)}")
        if path is not None:
            parts.append("Path=" + _check_path(path))
        if samesite is not None:
            parts.append("SameSite=" + _check_same_site(samesite, secure))
        if secure:
            parts.append("Secure")
        if partitioned:
            if not secure:
                raise InvalidCookie(
                    "partitioned",
                    "partitioned=True needs secure=True: browsers drop a Partitioned cookie "
                    "that is not Secure",
                )
            parts.append("Partitioned")
        self._suffix = "; ".join(parts)

    def render(self, value: str) -> str:
        """The ``Set-Cookie`` header value storing ``value``."""
        # The usual value (signed, base64): two C-speed passes, several times quicker than
        # a regex on a 4 KB session cookie.
        if not (value.isascii() and not value.encode().translate(None, _PLAIN_BYTES)):
            value = _encode_value(value)
        return self._prefix + value + self._suffix


def set_cookie_header(
    name: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | str | int | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: str | None = "lax",
    partitioned: bool = False,
) -> str:
    """A ``Set-Cookie`` header value; raises :class:`InvalidCookie` naming what is wrong."""
    cookie = SetCookie(
        name,
        max_age=max_age,
        expires=expires,
        path=path,
        domain=domain,
        secure=secure,
        httponly=httponly,
        samesite=samesite,
        partitioned=partitioned,
    )
    return cookie.render(value)


def _encode_value(value: str) -> str:
    if not value:
        return ""
    if _FORBIDDEN.search(value):
        raise InvalidCookie(
            "value",
            f"cookie value {value!r} holds ';' or a control character; encode it first "
            "(for example with urllib.parse.quote or base64)",
        )
    if max(value) > "\xff":
        raise InvalidCookie(
            "value",
            f"cookie value {value!r} holds characters beyond Latin-1; encode it first "
            "(for example with urllib.parse.quote or base64)",
        )
    # Spaces, quotes, commas, '=' and the like: quoted as Python always has, which
    # prow's parser (and Python servers) read back to the same text.
    return _QUOTER.value_encode(value)[1]


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise InvalidCookie(
            "name",
            f"cookie name {name!r} is not valid: use letters, digits and !#$%&'*+-.^_`|~ "
            "(no spaces, ';', ',', '=' or ':')",
        )
    if name.lower() in _RESERVED:
        raise InvalidCookie(
            "name", f"cookie name {name!r} is a Set-Cookie attribute name; choose another"
        )


def _check_max_age(max_age: object) -> int:
    if isinstance(max_age, bool) or not isinstance(max_age, int):
        raise InvalidCookie(
            "max_age", f"max_age must be a whole number of seconds, got {max_age!r}"
        )
    return max_age


def _check_path(path: str) -> str:
    if not path.startswith("/") or _FORBIDDEN.search(path):
        raise InvalidCookie(
            "path",
            f"path must start with '/' and hold no ';' or control characters, got {path!r}",
        )
    return path


def _check_domain(domain: str) -> str:
    if not domain or _FORBIDDEN.search(domain) or " " in domain:
        raise InvalidCookie(
            "domain",
            f"domain {domain!r} is not a valid cookie domain: it must be a host name "
            "without spaces, ';' or control characters",
        )
    return domain


def _check_same_site(samesite: str, secure: bool) -> str:
    rendered = _SAME_SITE.get(samesite.lower()) if isinstance(samesite, str) else None
    if rendered is None:
        raise InvalidCookie(
            "samesite", f"samesite must be 'lax', 'strict' or 'none', got {samesite!r}"
        )
    if rendered == "None" and not secure:
        raise InvalidCookie(
            "samesite",
            "samesite='none' needs secure=True: browsers drop a SameSite=None cookie "
            "that is not Secure",
        )
    return rendered


def _http_date(value: datetime | str | int) -> str:
    if isinstance(value, str):
        if _FORBIDDEN.search(value):
            raise InvalidCookie(
                "expires", f"expires holds ';' or a control character, got {value!r}"
            )
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return format_datetime(datetime.fromtimestamp(value, tz=UTC), usegmt=True)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidCookie(
                "expires",
                f"expires needs a timezone-aware datetime (such as "
                f"datetime.now(UTC) + timedelta(days=1)), got {value!r}",
            )
        return format_datetime(value.astimezone(UTC), usegmt=True)
    raise InvalidCookie(
        "expires",
        f"expires must be a datetime, an HTTP date text or a Unix timestamp, got {value!r}",
    )
