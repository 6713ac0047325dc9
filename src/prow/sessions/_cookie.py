"""The session cookie: its validated attributes, reading it from a request, writing it back."""

from __future__ import annotations

import re
from typing import Literal

from prow._exceptions import ConfigurationError
from prow._request import parse_cookie_header
from prow._types import Scope

__all__ = ["MAX_COOKIE_SIZE", "CookieSpec", "SameSite"]

SameSite = Literal["lax", "strict", "none"]

#: Browsers keep cookies up to 4096 bytes (name, value and attributes); larger ones are
#: dropped silently, which would log the user out without a word.
MAX_COOKIE_SIZE = 4096

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 6265 cookie-name characters
_FORBIDDEN_IN_ATTRIBUTE = re.compile(r"[;\x00-\x1f\x7f]")
_EXPIRED = "Thu, 01 Jan 1970 00:00:00 GMT"


class CookieSpec:
    """The session cookie's name and attributes, checked once and pre-rendered."""

    __slots__ = ("_suffix", "https_only", "max_age", "name")

    def __init__(
        self,
        name: str,
        *,
        max_age: int,
        path: str,
        domain: str | None,
        same_site: SameSite,
        https_only: bool | None,
    ) -> None:
        _check(name, max_age, path, domain, same_site, https_only)
        self.name = name
        self.max_age = max_age
        self.https_only = https_only
        # HttpOnly always: page scripts (and so an XSS payload) cannot read the session.
        attributes = [f"Path={path}"]
        if domain is not None:
            attributes.append(f"Domain={domain}")
        attributes += ["HttpOnly", f"SameSite={same_site.capitalize()}"]
        self._suffix = "; " + "; ".join(attributes)

    def read(self, scope: Scope) -> str | None:
        """The cookie's value in the request, or None."""
        for key, value in scope["headers"]:
            if key == b"cookie":
                found = parse_cookie_header(value.decode("latin-1")).get(self.name)
                if found:
                    return found
        return None

    def secure(self, scope: Scope) -> bool:
        """Whether to mark the cookie Secure: ``https_only``, or else when served over https."""
        if self.https_only is not None:
            return self.https_only
        return scope.get("scheme") in ("https", "wss")

    def header(self, value: str, secure: bool) -> str:
        """The ``Set-Cookie`` value storing ``value`` for ``max_age`` seconds."""
        text = f"{self.name}={value}; Max-Age={self.max_age}{self._suffix}"
        return text + "; Secure" if secure else text

    def deletion(self, secure: bool) -> str:
        """The ``Set-Cookie`` value that makes the browser forget the cookie."""
        text = f"{self.name}=; Max-Age=0; Expires={_EXPIRED}{self._suffix}"
        return text + "; Secure" if secure else text


def _check(
    name: str,
    max_age: int,
    path: str,
    domain: str | None,
    same_site: str,
    https_only: bool | None,
) -> None:
    if not _TOKEN.match(name):
        _invalid(f"cookie_name {name!r} is not a valid cookie name; use letters, digits, _ or -")
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
        _invalid(f"max_age must be a positive number of seconds, got {max_age!r}")
    if not path.startswith("/") or _FORBIDDEN_IN_ATTRIBUTE.search(path):
        _invalid(f"path must start with '/' and hold no ';', got {path!r}")
    if domain is not None and (not domain or _FORBIDDEN_IN_ATTRIBUTE.search(domain)):
        _invalid(f"domain {domain!r} is not a valid cookie domain")
    if same_site not in ("lax", "strict", "none"):
        _invalid(f"same_site must be 'lax', 'strict' or 'none', got {same_site!r}")
    if same_site == "none" and https_only is False:
        raise ConfigurationError(
            "prow.E122",
            "same_site='none' needs a Secure cookie (browsers drop it otherwise); "
            "set https_only=True or leave it None",
        )


def _invalid(message: str) -> None:
    raise ConfigurationError("prow.E121", f"SessionMiddleware: {message}")
