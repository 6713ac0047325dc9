"""Cross-Origin Resource Sharing: which other sites' scripts may call this API.

Threat model: a browser sends a page's cookies along with every request it makes, so without a
policy any site could read this API's answers on a logged-in user's behalf. The browser only
hands a cross-origin response to the calling script when the response names that origin in
``Access-Control-Allow-Origin``; it asks first (a *preflight* OPTIONS request) before sending
anything but a simple request. This middleware answers those questions from its configuration.
It is not access control for non-browser clients, which ignore CORS entirely.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prow._types import ASGIApp, Message, Receive, Scope, Send
from prow.middleware._headers import add_vary, copy_headers, set_header
from prow.responses import PlainTextResponse

__all__ = ["CORSMiddleware"]

# Headers a browser may always send without asking (the Fetch standard's CORS-safelisted names).
_SAFELISTED_HEADERS = frozenset({"accept", "accept-language", "content-language", "content-type"})


class CORSMiddleware:
    """Answer CORS preflights and label cross-origin responses for the browser.

    ``allow_origins`` lists exact origins (``"https://example.com"``) or ``"*"`` for any;
    ``allow_origin_regex`` matches whole origins. ``"*"`` in ``allow_methods`` or
    ``allow_headers`` allows any method or header. With ``allow_credentials`` a wildcard origin
    is answered by echoing the caller's origin, because browsers refuse ``*`` with credentials.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allow_origins: Sequence[str] = (),
        allow_methods: Sequence[str] = ("GET",),
        allow_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | None = None,
        expose_headers: Sequence[str] = (),
        max_age: int = 600,
    ) -> None:
        self.app = app
        self.allow_all_origins = "*" in allow_origins
        self.allow_origins = frozenset(allow_origins)
        self.origin_regex = re.compile(allow_origin_regex) if allow_origin_regex else None
        self.allow_all_methods = "*" in allow_methods
        methods = sorted({method.upper() for method in allow_methods if method != "*"})
        self.allow_methods = frozenset(methods)
        self.allow_all_headers = "*" in allow_headers
        headers = _SAFELISTED_HEADERS | {h.lower() for h in allow_headers if h != "*"}
        self.allow_headers = frozenset(headers)
        # Echo the origin whenever "*" cannot be sent literally: with credentials, or when only
        # some origins are allowed (then caches must also learn that the answer varies by origin).
        self.echo_origin = allow_credentials or not self.allow_all_origins
        self.simple_headers = self._simple_headers(allow_credentials, expose_headers)
        self.preflight_headers = self._preflight_headers(allow_credentials, methods, max_age)
        self.listed_headers = ", ".join(sorted(headers)).encode("latin-1")

    def _simple_headers(
        self, credentials: bool, expose_headers: Sequence[str]
    ) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        if not self.echo_origin:
            headers.append((b"access-control-allow-origin", b"*"))
        if credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        if expose_headers:
            exposed = ", ".join(expose_headers).encode("latin-1")
            headers.append((b"access-control-expose-headers", exposed))
        return headers

    def _preflight_headers(
        self, credentials: bool, methods: Sequence[str], max_age: int
    ) -> list[tuple[bytes, bytes]]:
        headers = [(b"access-control-max-age", str(max_age).encode("latin-1"))]
        if not self.allow_all_methods:
            headers.append((b"access-control-allow-methods", ", ".join(methods).encode("latin-1")))
        if not self.echo_origin:
            headers.append((b"access-control-allow-origin", b"*"))
        if credentials:
            headers.append((b"access-control-allow-credentials", b"true"))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = request_method = request_headers = None
        for key, value in scope["headers"]:
            if key == b"origin":
                origin = origin or value
            elif key == b"access-control-request-method":
                request_method = value
            elif key == b"access-control-request-headers":
                request_headers = value
        if origin is None:
            await self.app(scope, receive, send)
        elif scope["method"] == "OPTIONS" and request_method is not None:
            response = self.preflight(origin, request_method, request_headers)
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, self._labelling_send(origin, send))

    def is_allowed_origin(self, origin: str) -> bool:
        """Whether ``origin`` may read this app's responses."""
        if self.allow_all_origins or origin in self.allow_origins:
            return True
        return self.origin_regex is not None and self.origin_regex.fullmatch(origin) is not None

    def preflight(
        self, origin: bytes, method: bytes, request_headers: bytes | None
    ) -> PlainTextResponse:
        """Answer a preflight: 200 with the policy, or 400 naming everything disallowed."""
        origin_text = origin.decode("latin-1")
        method_text = method.decode("latin-1").strip()
        asked = _split_tokens(request_headers)
        failures = []
        if not self.is_allowed_origin(origin_text):
            failures.append(f"origin {origin_text!r} is not allowed")
        if not self.allow_all_methods and method_text.upper() not in self.allow_methods:
            failures.append(f"method {method_text!r} is not allowed")
        refused = [h for h in asked if h not in self.allow_headers and not self.allow_all_headers]
        if refused:
            failures.append(f"headers {', '.join(refused)!r} are not allowed")
        if failures:
            return PlainTextResponse("Disallowed CORS request: " + "; ".join(failures), 400)
        response = PlainTextResponse("OK", 200)
        headers = response.raw_headers
        headers.extend(self.preflight_headers)
        if self.allow_all_methods:
            # Echo rather than send "*": browsers read "*" literally on credentialed requests.
            headers.append((b"access-control-allow-methods", method_text.encode("latin-1")))
        if self.echo_origin:
            headers.append((b"access-control-allow-origin", origin))
            headers.append((b"vary", b"Origin"))
        # "*" is taken literally when credentials are involved, so list what is actually allowed.
        allowed = ", ".join(asked).encode("latin-1") if self.allow_all_headers else None
        headers.append((b"access-control-allow-headers", allowed or self.listed_headers))
        return response

    def _labelling_send(self, origin: bytes, send: Send) -> Send:
        if not self.is_allowed_origin(origin.decode("latin-1")):
            # The browser withholds the response from the calling page; nothing to add.
            return send

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = copy_headers(message.get("headers"))
                for name, value in self.simple_headers:
                    set_header(headers, name, value)
                if self.echo_origin:
                    set_header(headers, b"access-control-allow-origin", origin)
                    add_vary(headers, b"Origin")
                message = {**message, "headers": headers}
            await send(message)

        return labelled


def _split_tokens(value: bytes | None) -> list[str]:
    if not value:
        return []
    tokens = (token.strip().lower() for token in value.decode("latin-1").split(","))
    return [token for token in tokens if token]
