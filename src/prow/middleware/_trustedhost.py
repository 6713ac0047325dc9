"""Refuse requests whose Host header names a host this app does not serve.

Threat model: applications build absolute URLs (password-reset links, redirects, canonical
links) from the Host header, and caches key pages by it. An attacker who can make the app answer
for ``Host: evil.example`` can poison those links and cached pages. Listing the real hostnames
here rejects such requests before any handler sees them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prow._datastructures import URL
from prow._types import ASGIApp, Receive, Scope, Send
from prow.responses import PlainTextResponse, RedirectResponse

__all__ = ["HostChecker", "TrustedHostMiddleware", "host_from_scope"]

# A Host header is a DNS name (dot-separated labels, optional final dot) or a bracketed IPv6
# literal, optionally followed by a port. Anything else is refused outright, so a wildcard suffix
# match can never be satisfied by a value such as "evil.test/.example.com".
_HOST = re.compile(
    r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_-]+(?:\.[a-z0-9_-]+)*)\.?)(?::[0-9]{1,5})?"
)


class HostChecker:
    """Whether a request's Host header matches a list of host patterns (built once).

    Patterns: ``"example.com"`` (exactly that host), ``"*.example.com"`` (any subdomain, not the
    bare domain), ``"*"`` (anything). Ports are ignored; IPv6 hosts may be listed with or without
    brackets. A missing or malformed Host header never matches (unless ``"*"`` is listed).
    """

    __slots__ = ("allow_any", "exact_hosts", "suffixes")

    def __init__(self, allowed_hosts: Sequence[str]) -> None:
        if isinstance(allowed_hosts, str):
            raise TypeError("allowed_hosts must be a list of host patterns, not one string")
        self.allow_any = "*" in allowed_hosts
        exact: set[str] = set()
        suffixes: list[str] = []
        for pattern in allowed_hosts:
            host = _normalise_pattern(pattern)
            if host.startswith("*."):
                suffixes.append(host[1:])
            elif host != "*":
                exact.add(host)
        self.exact_hosts = frozenset(exact)
        self.suffixes = tuple(suffixes)

    def is_allowed(self, host: str) -> bool:
        """Whether the bare, lower-case ``host`` (no port) matches an allowed pattern."""
        return self.allow_any or host in self.exact_hosts or host.endswith(self.suffixes)

    def allows(self, scope: Scope) -> bool:
        """Whether an HTTP or websocket scope's Host header is allowed (other scopes pass)."""
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            return True
        host = host_from_scope(scope)
        return host is not None and self.is_allowed(host)


class TrustedHostMiddleware:
    """Let through only requests for ``allowed_hosts``; answer anything else with 400.

    ``App(allowed_hosts=[...])`` does the same check without a middleware layer; use this
    class to guard another ASGI app. Patterns are those of :class:`HostChecker`. With
    ``www_redirect``, a request for ``example.com`` is redirected to ``www.example.com`` when
    only the latter is allowed. Websocket handshakes for a wrong host are closed with code
    1008 (policy violation).
    """

    def __init__(
        self, app: ASGIApp, *, allowed_hosts: Sequence[str] = ("*",), www_redirect: bool = True
    ) -> None:
        self.app = app
        self.checker = HostChecker(allowed_hosts)
        self.allow_any = self.checker.allow_any
        exact = self.checker.exact_hosts
        # Hosts whose "www." form is listed: the only ones a redirect may ever point at.
        self.redirect_hosts = (
            frozenset(host[4:] for host in exact if host.startswith("www."))
            if www_redirect
            else frozenset()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = host_from_scope(scope)
        if host is not None and self.checker.is_allowed(host):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        elif host is not None and host in self.redirect_hosts:
            await _redirect_to_www(scope, receive, send)
        else:
            await PlainTextResponse("Invalid host header", 400)(scope, receive, send)

    def is_allowed(self, host: str) -> bool:
        """Whether the bare, lower-case ``host`` (no port) matches an allowed pattern."""
        return self.checker.is_allowed(host)


def _normalise_pattern(pattern: str) -> str:
    host = pattern.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if "*" in host and host != "*" and not (host.startswith("*.") and "*" not in host[2:]):
        raise ValueError(
            f"allowed_hosts pattern {pattern!r} is not supported: use 'example.com', "
            "'*.example.com' or '*'"
        )
    return host


def host_from_scope(scope: Scope) -> str | None:
    """The request's host without port, lower-cased; ``None`` when missing or malformed."""
    for key, value in scope["headers"]:
        if key == b"host":
            match = _HOST.fullmatch(value.decode("latin-1").lower())
            if match is None:
                return None
            return match["ipv6"] or match["name"]
    return None


async def _redirect_to_www(scope: Scope, receive: Receive, send: Send) -> None:
    # Only the host changes, to the "www." name the configuration lists, so the redirect cannot
    # be steered to another site; scheme, port, path and query are kept.
    url = URL(scope=scope)
    await RedirectResponse(str(url.replace(netloc="www." + url.netloc.lower())))(
        scope, receive, send
    )
