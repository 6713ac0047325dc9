"""The session cookie: its validated attributes, reading it from a request, writing it back."""

from __future__ import annotations

from typing import NoReturn

from prow._cookies import InvalidCookie, SameSite, SetCookie, request_cookies
from prow._exceptions import ConfigurationError
from prow._types import Scope

__all__ = ["MAX_COOKIE_SIZE", "CookieSpec", "SameSite"]

#: Browsers keep cookies up to 4096 bytes (name, value and attributes); larger ones are
#: dropped silently, which would log the user out without a word.
MAX_COOKIE_SIZE = 4096

# SessionMiddleware's names for the Set-Cookie arguments that InvalidCookie names.
_OPTIONS = {"name": "cookie_name", "samesite": "same_site"}


class CookieSpec:
    """The session cookie's name and attributes, checked once and pre-rendered.

    ``Secure`` is fixed by ``https_only`` (and always on with ``SameSite=None``), or else
    follows the request's scheme: both variants are rendered at start-up, one picked per
    response.
    """

    __slots__ = ("_deletions", "_setters", "https_only", "max_age", "name")

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
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age <= 0:
            _invalid(f"max_age must be a positive number of seconds, got {max_age!r}")
        site = same_site.lower() if isinstance(same_site, str) else same_site
        if site == "none":
            if https_only is False:
                raise ConfigurationError(
                    "prow.E122",
                    "same_site='none' needs a Secure cookie (browsers drop it otherwise); "
                    "set https_only=True or leave it None",
                )
            # Browsers drop a SameSite=None cookie that is not Secure, so it is Secure on
            # every scheme (browsers accept that from http://localhost too).
            https_only = True
        self.name = name
        self.max_age = max_age
        self.https_only = https_only
        variants = (False, True) if https_only is None else (https_only,)
        try:
            # HttpOnly always: page scripts (and so an XSS payload) cannot read the session.
            self._setters = {
                secure: SetCookie(
                    name,
                    max_age=max_age,
                    path=path,
                    domain=domain,
                    secure=secure,
                    httponly=True,
                    samesite=site,
                )
                for secure in variants
            }
            self._deletions = {
                secure: SetCookie(
                    name,
                    max_age=0,
                    expires=0,
                    path=path,
                    domain=domain,
                    secure=secure,
                    httponly=True,
                    samesite=site,
                ).render("")
                for secure in variants
            }
        except InvalidCookie as exc:
            _invalid(f"{_OPTIONS.get(exc.field, exc.field)}: {exc}")

    def read(self, scope: Scope) -> str | None:
        """The cookie's value in the request, or None (the parse is shared with the request)."""
        return request_cookies(scope).get(self.name) or None

    def secure(self, scope: Scope) -> bool:
        """Whether to mark the cookie Secure: ``https_only``, or else when served over https."""
        if self.https_only is not None:
            return self.https_only
        return scope.get("scheme") in ("https", "wss")

    def header(self, value: str, secure: bool) -> str:
        """The ``Set-Cookie`` value storing ``value`` for ``max_age`` seconds."""
        return self._setters[secure].render(value)

    def deletion(self, secure: bool) -> str:
        """The ``Set-Cookie`` value that makes the browser forget the cookie."""
        return self._deletions[secure]


def _invalid(message: str) -> NoReturn:
    raise ConfigurationError("prow.E121", f"SessionMiddleware: {message}")
