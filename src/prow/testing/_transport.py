"""The HTTP side of the test clients: httpx transports that run each request through the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, Self

import anyio
import httpx

from prow._errors import UNHANDLED
from prow._types import ASGIApp, Message, Scope
from prow.testing._plumbing import PortalFactory
from prow.testing._scope import Connection, http_scope


class _Chunks:
    """An async iterator over request body chunks already read in another thread."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None


class _BodyReader:
    """Turns request body chunks into ``http.request`` messages, marking the last one."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._ahead: bytes | None = None
        self._primed = False
        self._finished = False

    async def _pull(self) -> bytes | None:
        async for chunk in self._chunks:
            if chunk:
                return chunk
        return None

    async def next_message(self) -> Message | None:
        """The next ``http.request`` message, or None once the whole body was given."""
        if self._finished:
            return None
        current = self._ahead if self._primed else await self._pull()
        # Looking one chunk ahead lets a one-chunk body arrive as a single message.
        self._ahead = await self._pull() if current is not None else None
        self._primed = True
        self._finished = self._ahead is None
        return {"type": "http.request", "body": current or b"", "more_body": not self._finished}


class _ResponseStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body chunks the app sent, replayed to httpx one by one."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


class _ResponseCollector:
    """Checks and records the response messages an app sends."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.debug: dict[str, Any] | None = None
        self.started = False
        self.complete = anyio.Event()

    def accept(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self.started:
                raise RuntimeError('the app sent "http.response.start" twice')
            self.started = True
            self.status = message["status"]
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
        elif kind == "http.response.body":
            if not self.started:
                raise RuntimeError('the app sent "http.response.body" before its start')
            if self.complete.is_set():
                raise RuntimeError('the app sent "http.response.body" after the last one')
            body = bytes(message.get("body", b""))
            if body and self.method != "HEAD":  # a server sends no body to a HEAD request
                self.chunks.append(body)
            if not message.get("more_body", False):
                self.complete.set()
        elif kind == "http.response.debug":
            self.debug = dict(message.get("info", {}))
        else:
            raise RuntimeError(f"the app sent an unexpected message {kind!r} on an HTTP scope")

    def to_response(self, request: httpx.Request) -> httpx.Response:
        response = httpx.Response(
            self.status, headers=self.headers, stream=_ResponseStream(self.chunks), request=request
        )
        if self.debug is not None:
            # What template responses report, under the names Starlette users reach for.
            response.extensions["http.response.debug"] = self.debug
            for name in ("template", "context"):
                if name in self.debug:
                    setattr(response, name, self.debug[name])
        return response


async def _call_http_app(
    app: ASGIApp,
    scope: Scope,
    body: AsyncIterator[bytes],
    request: httpx.Request,
    raise_server_exceptions: bool,
) -> httpx.Response:
    """Run one HTTP request through ``app`` and collect what it answered."""
    reader = _BodyReader(body)
    collector = _ResponseCollector(request.method)

    async def receive() -> Message:
        message = await reader.next_message()
        if message is not None:
            return message
        # Like a real client, disconnect only once the whole response has arrived.
        await collector.complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        collector.accept(message)

    # prow answers an unhandled error 500 and reports it here rather than raising it at the
    # server (which would drop the connection); foreign ASGI apps still raise.
    unhandled: list[BaseException] = []
    scope[UNHANDLED] = unhandled
    try:
        await app(scope, receive, send)
    except Exception:
        if raise_server_exceptions:
            raise
        if not collector.started:
            return httpx.Response(500, text="Internal Server Error", request=request)
    if unhandled and raise_server_exceptions:
        raise unhandled[0]
    if not collector.started:
        if raise_server_exceptions:
            raise RuntimeError("the app returned without sending http.response.start")
        return httpx.Response(500, text="Internal Server Error", request=request)
    return collector.to_response(request)


class PortalTransport(httpx.BaseTransport):
    """Runs each request through the app on a blocking portal's event loop."""

    def __init__(
        self,
        app: ASGIApp,
        connection: Connection,
        portal_factory: PortalFactory,
        raise_server_exceptions: bool,
    ) -> None:
        self._app = app
        self._connection = connection
        self._portal_factory = portal_factory
        self._raise = raise_server_exceptions

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The body is read here, in the caller's thread, because a sync stream (a file being
        # uploaded, say) need not be safe to read from the portal's thread.
        if isinstance(request.stream, httpx.SyncByteStream):
            chunks = list(request.stream)
        else:  # pragma: no cover - httpx.Client always builds sync streams
            chunks = [request.read()]
        scope = http_scope(request, self._connection)
        with self._portal_factory() as portal:
            return portal.call(
                _call_http_app, self._app, scope, _Chunks(chunks), request, self._raise
            )


class AsyncTransport(httpx.AsyncBaseTransport):
    """Runs each request through the app on the caller's own event loop."""

    def __init__(self, app: ASGIApp, connection: Connection, raise_server_exceptions: bool) -> None:
        self._app = app
        self._connection = connection
        self._raise = raise_server_exceptions

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        scope = http_scope(request, self._connection)
        body = aiter(request.stream)
        return await _call_http_app(self._app, scope, body, request, self._raise)
