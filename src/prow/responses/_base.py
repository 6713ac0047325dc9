"""The response every other response builds on, and the plain body kinds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import pydantic_core

from prow._cookies import set_cookie_header
from prow._datastructures import MutableHeaders
from prow._types import Receive, Scope, Send
from prow.background import BackgroundTask
from prow.scope import HEADERS

__all__ = [
    "HTMLResponse",
    "JSONResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "Response",
]


class Response:
    """An HTTP response: a status, headers and a body, sent as an ASGI callable.

    Headers are kept as the raw ASGI list of byte pairs, encoded once when the
    response is built, so sending it does no further work.
    """

    media_type: str | None = None
    charset = "utf-8"
    #: True while every header was set by prow itself (no name the app's security headers
    #: use, no cookie, no Cache-Control); the user's own headers, a cookie, or a look at
    #: ``headers`` turn it off.
    _plain = False

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        self.body = self.render(content)
        self.raw_headers = self._build_headers(headers)
        self._plain = not headers

    def render(self, content: Any) -> bytes:
        """Turn ``content`` into the body bytes; subclasses change the encoding."""
        if content is None:
            return b""
        if isinstance(content, bytes | bytearray | memoryview):
            return bytes(content)
        return str(content).encode(self.charset)

    def _build_headers(self, headers: Mapping[str, str] | None) -> list[tuple[bytes, bytes]]:
        raw: list[tuple[bytes, bytes]] = []
        has_length = has_type = False
        if headers:
            for key, value in headers.items():
                name = key.lower().encode("latin-1")
                has_length = has_length or name == b"content-length"
                has_type = has_type or name == b"content-type"
                raw.append((name, value.encode("latin-1")))
        body = getattr(self, "body", None)
        status = self.status_code
        # Every response is built here: the checks are inlined rather than called.
        if body is not None and not has_length and not (status < 200 or status in (204, 304)):
            raw.append((b"content-length", str(len(body)).encode("latin-1")))
        if self.media_type is not None and not has_type:
            content_type = _CONTENT_TYPES.get((self.media_type, self.charset))
            raw.append((b"content-type", content_type or self._content_type()))
        return raw

    def _content_type(self) -> bytes:
        key = (self.media_type, self.charset)
        cached = _CONTENT_TYPES.get(key)
        if cached is None:
            cached = _CONTENT_TYPES[key] = _encode_content_type(*key)
        return cached

    @property
    def headers(self) -> MutableHeaders:
        """The response headers, editable in place."""
        self._plain = False
        return MutableHeaders(raw=self.raw_headers)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: datetime | str | int | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
        partitioned: bool = False,
    ) -> None:
        """Add a ``Set-Cookie`` header; SameSite=Lax unless told otherwise.

        Raises ``ValueError`` for what browsers would refuse or misread: a name that is not a
        token, a value with ``;`` or control characters, ``samesite="none"`` or
        ``partitioned`` without ``secure``.
        """
        header = set_cookie_header(
            key,
            str(value),
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        self.raw_headers.append((b"set-cookie", header.encode("latin-1")))
        self._plain = False  # a cookie makes the answer personal (no-store)

    def delete_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: Literal["lax", "strict", "none"] | None = "lax",
    ) -> None:
        """Tell the client to forget a cookie."""
        self.set_cookie(
            key,
            max_age=0,
            expires=0,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The app's security headers are added where the response starts (App's send).
        extra = scope.get(HEADERS)  # the app's headers (prow.scope), added here: no wrapper
        headers = (
            self.raw_headers
            if extra is None
            else extra.finish(self.raw_headers, scope, self._plain)
        )
        await send({"type": "http.response.start", "status": self.status_code, "headers": headers})
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})
        if self.background is not None:
            await self.background()


_CONTENT_TYPES: dict[tuple[str | None, str], bytes] = {}


def _encode_content_type(media_type: str | None, charset: str) -> bytes:
    media_type = media_type or ""
    if media_type.startswith("text/") and "charset=" not in media_type:
        media_type += "; charset=" + charset
    return media_type.encode("latin-1")


class HTMLResponse(Response):
    media_type = "text/html"


class PlainTextResponse(Response):
    media_type = "text/plain"


class JSONResponse(Response):
    """JSON straight to bytes through pydantic-core: models, dataclasses, dates, UUIDs, Decimals."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # NaN and infinities are not JSON: null, as pydantic's own serializers write them.
        return pydantic_core.to_json(content, inf_nan_mode="null")


class RedirectResponse(Response):
    """Redirect to ``url``; 307 keeps the method and body, 303 turns a POST into a GET."""

    def __init__(
        self,
        url: str,
        status_code: int = 307,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        super().__init__(None, status_code, headers, None, background)
        location = quote(str(url), safe=":/%#?=@[]!$&'()*+,;~")
        self.raw_headers.append((b"location", location.encode("latin-1")))
