"""Gzip-compress response bodies for clients that accept it."""

from __future__ import annotations

import zlib
from functools import lru_cache

from prow._types import ASGIApp, Message, Receive, Scope, Send
from prow.middleware._headers import add_vary, copy_headers, remove_header, set_header

__all__ = ["GZipMiddleware"]

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's way of asking for a gzip header and trailer


class GZipMiddleware:
    """Compress responses of at least ``minimum_size`` bytes when the client sends
    ``Accept-Encoding: gzip``.

    Left alone: responses that already carry a Content-Encoding, server-sent event streams (each
    event must reach the client at once), partial content, ``Cache-Control: no-transform`` and
    bodyless statuses. Streamed bodies are compressed chunk by chunk as they arrive.
    """

    def __init__(self, app: ASGIApp, *, minimum_size: int = 500, compresslevel: int = 9) -> None:
        if not 0 <= compresslevel <= 9:
            raise ValueError(f"compresslevel must be between 0 and 9, got {compresslevel}")
        self.app = app
        self.minimum_size = minimum_size
        self.compresslevel = compresslevel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for key, value in scope["headers"]:
                if key == b"accept-encoding" and accepts_gzip(value):
                    responder = _GZipResponder(send, self.minimum_size, self.compresslevel)
                    await self.app(scope, receive, responder.send)
                    return
        await self.app(scope, receive, send)


@lru_cache(maxsize=128)
def accepts_gzip(accept_encoding: bytes) -> bool:
    """Whether an Accept-Encoding value allows gzip; real clients send a handful of values,
    so the answer is cached per value."""
    for item in accept_encoding.decode("latin-1").lower().split(","):
        coding, _, params = item.partition(";")
        if coding.strip() in ("gzip", "x-gzip"):
            return not _is_zero_quality(params)
    return False


def _is_zero_quality(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value) == 0
            except ValueError:
                return True  # a malformed weight is not a clear "yes"
    return False


class _GZipResponder:
    """The ``send`` for one response: holds the start message until the first body chunk
    shows whether compressing is worthwhile, then compresses or passes everything through."""

    __slots__ = ("_compressor", "_level", "_minimum_size", "_passthrough", "_send", "_start")

    def __init__(self, send: Send, minimum_size: int, level: int) -> None:
        self._send = send
        self._minimum_size = minimum_size
        self._level = level
        self._start: Message | None = None
        self._compressor: zlib._Compress | None = None
        self._passthrough = False

    async def send(self, message: Message) -> None:
        if self._passthrough:
            await self._send(message)
        elif self._compressor is not None:
            await self._send_compressed(message)
        elif message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] == "http.response.body" and self._start is not None:
            await self._on_first_body(self._start, message)
        else:
            # Something we do not rewrite (e.g. a path-send extension): send it as it is.
            await self._pass_through(message)

    async def _on_start(self, message: Message) -> None:
        if _compressible(message):
            self._start = message
        else:
            self._passthrough = True
            await self._send(message)

    async def _pass_through(self, message: Message) -> None:
        self._passthrough = True
        if self._start is not None:
            await self._send(self._start)
        await self._send(message)

    async def _on_first_body(self, start: Message, message: Message) -> None:
        body: bytes = message.get("body", b"")
        more_body = message.get("more_body", False)
        if not more_body and len(body) < self._minimum_size:
            await self._pass_through(message)
            return
        headers = _compressed_headers(start)
        if more_body:
            # The final length is unknown until the stream ends, so send no Content-Length.
            remove_header(headers, b"content-length")
            self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, _GZIP_WBITS)
            await self._send({**start, "headers": headers})
            await self._send_compressed(message)
            return
        compressed = zlib.compress(body, self._level, wbits=_GZIP_WBITS)
        set_header(headers, b"content-length", str(len(compressed)).encode("latin-1"))
        await self._send({**start, "headers": headers})
        await self._send({"type": "http.response.body", "body": compressed})

    async def _send_compressed(self, message: Message) -> None:
        assert self._compressor is not None
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        data = self._compressor.compress(message.get("body", b""))
        if message.get("more_body", False):
            # Flush each chunk so a streamed page or feed reaches the client as it is produced
            # instead of sitting in the compressor's window; costs a few bytes per chunk.
            data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
            await self._send({"type": "http.response.body", "body": data, "more_body": True})
        else:
            data += self._compressor.flush(zlib.Z_FINISH)
            await self._send({"type": "http.response.body", "body": data})


def _compressible(start: Message) -> bool:
    status: int = start["status"]
    if status < 200 or status in (204, 206, 304):
        return False
    for key, value in start.get("headers") or ():
        name = key.lower()
        if name in (b"content-encoding", b"content-range"):
            return False
        if name == b"content-type" and value.lower().startswith(b"text/event-stream"):
            return False
        if name == b"cache-control" and b"no-transform" in value.lower():
            return False
    return True


def _compressed_headers(start: Message) -> list[tuple[bytes, bytes]]:
    headers = copy_headers(start.get("headers"))
    set_header(headers, b"content-encoding", b"gzip")
    add_vary(headers, b"Accept-Encoding")
    for index, (key, value) in enumerate(headers):
        if key.lower() == b"etag" and value.startswith(b'"'):
            # The compressed bytes differ from the original, so a strong validator no longer
            # holds; a weak one still lets conditional requests work.
            headers[index] = (key, b"W/" + value)
    return headers
