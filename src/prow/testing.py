"""Test clients that run any ASGI 3 app in process, as Starlette's and FastAPI's do.

``TestClient`` is a synchronous ``httpx.Client``: each request runs the app on an event loop
held by a blocking portal (one per request, or one for a whole ``with`` block, which also
runs the app's lifespan). ``AsyncTestClient`` is the same over ``httpx.AsyncClient`` for async
tests. Both open websockets with ``websocket_connect``.
"""

from __future__ import annotations

import json
import queue
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import AbstractContextManager, AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
import anyio.from_thread
import anyio.lowlevel

try:
    import httpx
except ModuleNotFoundError as exc:
    raise ImportError("prow.testing needs httpx: pip install 'prow[testing]'") from exc

from prow._exceptions import WebSocketDisconnect
from prow._types import ASGIApp, Message, Scope

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from anyio.from_thread import BlockingPortal
    from httpx._types import CookieTypes

__all__ = [
    "AsyncTestClient",
    "AsyncWebSocketTestSession",
    "TestClient",
    "WebSocketDenialResponse",
    "WebSocketTestSession",
]

PortalFactory = Callable[[], AbstractContextManager["BlockingPortal"]]
JSONMode = Literal["text", "binary"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class WebSocketDenialResponse(httpx.Response, Exception):  # type: ignore[misc]
    """The app refused a websocket handshake with an HTTP response (``websocket.http.response``).

    It is both the exception ``websocket_connect`` raises and the response the app sent:
    ``status_code``, ``headers``, ``content``, ``json()``.
    """

    def __str__(self) -> str:
        return f"websocket handshake denied with HTTP {self.status_code}"


# --------------------------------------------------------------------------- scopes


@dataclass
class _Connection:
    """What every scope a client builds shares; ``state`` is filled by the lifespan."""

    root_path: str
    client: tuple[str, int]
    state: dict[str, Any] = field(default_factory=dict)


def _scope_from_request(request: httpx.Request, connection: _Connection) -> Scope:
    """The keys the HTTP and websocket scopes share, read from an httpx request."""
    url = request.url
    port = url.port or _DEFAULT_PORTS.get(url.scheme, 80)
    return {
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": url.scheme,
        "path": url.path,  # httpx gives it percent-decoded, as ASGI wants
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "root_path": connection.root_path,
        "query_string": url.query,
        "headers": [(key.lower(), value) for key, value in request.headers.raw],
        "client": connection.client,
        "server": (url.host, port),
        # The lifespan state extension: every connection gets a shallow copy of what the
        # app stored at startup, so one request's writes never leak into the next.
        "state": dict(connection.state),
    }


def _http_scope(request: httpx.Request, connection: _Connection) -> Scope:
    scope = _scope_from_request(request, connection)
    scope.update(type="http", method=request.method, extensions={"http.response.debug": {}})
    return scope


def _websocket_scope(
    request: httpx.Request, connection: _Connection, subprotocols: Sequence[str]
) -> Scope:
    scope = _scope_from_request(request, connection)
    scope.update(
        type="websocket",
        scheme="wss" if request.url.scheme == "https" else "ws",
        subprotocols=list(subprotocols),
        extensions={"websocket.http.response": {}},
    )
    return scope


def _handshake_headers(
    subprotocols: Sequence[str], headers: Mapping[str, str] | None
) -> dict[str, str]:
    """The headers a browser sends to open a websocket, plus the caller's own."""
    merged = {
        "connection": "upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
    }
    if subprotocols:
        merged["sec-websocket-protocol"] = ", ".join(subprotocols)
    merged.update(headers or {})
    return merged


def _client_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {"user-agent": "testclient", **(headers or {})}


# --------------------------------------------------------------------------- HTTP


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

    try:
        await app(scope, receive, send)
    except Exception:
        if raise_server_exceptions:
            raise
        if not collector.started:
            return httpx.Response(500, text="Internal Server Error", request=request)
    if not collector.started:
        if raise_server_exceptions:
            raise RuntimeError("the app returned without sending http.response.start")
        return httpx.Response(500, text="Internal Server Error", request=request)
    return collector.to_response(request)


class _PortalTransport(httpx.BaseTransport):
    """Runs each request through the app on a blocking portal's event loop."""

    def __init__(
        self,
        app: ASGIApp,
        connection: _Connection,
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
        scope = _http_scope(request, self._connection)
        with self._portal_factory() as portal:
            return portal.call(
                _call_http_app, self._app, scope, _Chunks(chunks), request, self._raise
            )


class _AsyncTransport(httpx.AsyncBaseTransport):
    """Runs each request through the app on the caller's own event loop."""

    def __init__(
        self, app: ASGIApp, connection: _Connection, raise_server_exceptions: bool
    ) -> None:
        self._app = app
        self._connection = connection
        self._raise = raise_server_exceptions

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        scope = _http_scope(request, self._connection)
        body = aiter(request.stream)
        return await _call_http_app(self._app, scope, body, request, self._raise)


# --------------------------------------------------------------------------- task plumbing


class _Signal:
    """Wakes the tasks waiting on it, any number of times (an ``anyio.Event`` fires once)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait_for(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._event.wait()


class _Mailbox:
    """ASGI messages passed to a task on the same event loop; ``get`` waits for one."""

    def __init__(self) -> None:
        self._items: deque[Message] = deque()
        self.changed = _Signal()

    def put(self, message: Message) -> None:
        self._items.append(message)
        self.changed.fire()

    def __bool__(self) -> bool:
        return bool(self._items)

    async def get(self) -> Message:
        await self.changed.wait_for(lambda: bool(self._items))
        return self._items.popleft()


# --------------------------------------------------------------------------- lifespan


class _Lifespan:
    """Drives an app's lifespan protocol: ``run`` in a task, then ``startup`` and ``shutdown``."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._inbox = _Mailbox()
        self._answers: deque[Message] = deque()
        self._signal = self._inbox.changed
        self._cancel_scope: anyio.CancelScope | None = None
        self._cancelled = False
        self._received = False  # the app took the startup message
        self._waiting = False  # the app is blocked in receive()
        self._finished = False
        self._supported = True
        self._error: Exception | None = None

    async def run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self._state,
        }
        with anyio.CancelScope() as cancel_scope:
            self._cancel_scope = cancel_scope
            if self._cancelled:
                cancel_scope.cancel()
            try:
                await self._app(scope, self._receive, self._send)
            except Exception as exc:  # reported to the test by startup() or shutdown()
                self._error = exc
            finally:
                self._finished = True
                self._signal.fire()

    def cancel(self) -> None:
        """Stop the app's lifespan task if it is still running (it ignored shutdown)."""
        self._cancelled = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    async def _receive(self) -> Message:
        self._waiting = True
        self._signal.fire()
        try:
            message = await self._inbox.get()
        finally:
            self._waiting = False
        self._received = True
        return message

    async def _send(self, message: Message) -> None:
        self._answers.append(dict(message))
        self._signal.fire()

    async def _next_answer(self) -> Message | None:
        await self._signal.wait_for(lambda: bool(self._answers) or self._finished)
        return self._answers.popleft() if self._answers else None

    async def _settle(self) -> None:
        """Wait until the app has returned or waits for a message we will not send."""
        await self._signal.wait_for(lambda: self._finished or (self._waiting and not self._inbox))

    async def startup(self) -> None:
        """Send ``lifespan.startup``; raise what the app reported if its startup failed."""
        self._inbox.put({"type": "lifespan.startup"})
        answer = await self._next_answer()
        if answer is None:
            if not self._received:
                # The ASGI spec lets an app refuse the lifespan scope by raising at once.
                self._supported = False
                return
            raise self._error or RuntimeError("the app's lifespan returned during startup")
        if answer["type"] == "lifespan.startup.complete":
            return
        if answer["type"] == "lifespan.startup.failed":
            await self._settle()
            raise self._error or RuntimeError(f"lifespan startup failed: {answer.get('message')}")
        raise RuntimeError(f"unexpected lifespan message during startup: {answer['type']!r}")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown``; raise what the app reported if its shutdown failed."""
        if not self._supported:
            return
        if not self._finished:
            self._inbox.put({"type": "lifespan.shutdown"})
            answer = await self._next_answer()
            await self._settle()
            if answer is not None and answer["type"] == "lifespan.shutdown.failed":
                message = answer.get("message")
                raise self._error or RuntimeError(f"lifespan shutdown failed: {message}")
        if self._error is not None:
            raise self._error


# --------------------------------------------------------------------------- websockets


class _ClientGone(OSError):
    """Raised from ``send`` once the test closed the websocket, as a real server does."""


@dataclass
class _AppEnded:
    """The app's websocket task returned (``error`` is None) or raised."""

    error: Exception | None
    reported: bool = False


def _json_message(data: Any, mode: JSONMode) -> Message:
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if mode == "text":
        return {"type": "websocket.receive", "text": text}
    if mode == "binary":
        return {"type": "websocket.receive", "bytes": text.encode("utf-8")}
    raise ValueError(f'mode must be "text" or "binary", not {mode!r}')


def _text_of(message: Message) -> str:
    text = message.get("text")
    if not isinstance(text, str):
        raise TypeError("expected a text message from the app, got a binary one")
    return text


def _bytes_of(message: Message) -> bytes:
    data = message.get("bytes")
    if not isinstance(data, bytes):
        raise TypeError("expected a binary message from the app, got a text one")
    return data


def _json_of(message: Message, mode: JSONMode) -> Any:
    if mode == "text":
        return json.loads(_text_of(message))
    if mode == "binary":
        return json.loads(_bytes_of(message).decode("utf-8"))
    raise ValueError(f'mode must be "text" or "binary", not {mode!r}')


class _WebSocketState:
    """What both websocket sessions know about the conversation, and how they read it."""

    #: Seconds to wait, on leaving the session, for the app to finish after the disconnect.
    close_timeout: float = 5.0

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.accepted_subprotocol: str | None = None
        self.extra_headers: list[tuple[bytes, bytes]] = []
        self._closed_by_app: tuple[int, str | None] | None = None
        self._ended: _AppEnded | None = None
        self._client_closed = False

    def _disconnect(self) -> WebSocketDisconnect:
        if self._closed_by_app is not None:
            return WebSocketDisconnect(*self._closed_by_app)
        return WebSocketDisconnect(1006, "the app ended without closing the websocket")

    def _check_open(self) -> None:
        if self._closed_by_app is not None or self._ended is not None:
            raise self._disconnect()

    def _take(self, item: Message | _AppEnded) -> Message:
        """Turn what the app produced into the message the test sees, or the error it raises."""
        if isinstance(item, _AppEnded):
            self._ended = item
            if item.error is not None:
                item.reported = True
                raise item.error
            raise self._disconnect()
        if item["type"] == "websocket.close":
            self._closed_by_app = (item.get("code", 1000), item.get("reason"))
        return item

    def _accepts(self, message: Message) -> bool:
        """True if ``message`` accepts the handshake, False if it starts a denial response."""
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted_subprotocol = message.get("subprotocol")
            self.extra_headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            return True
        if kind == "websocket.close":
            raise self._disconnect()
        if kind == "websocket.http.response.start":
            return False
        raise RuntimeError(f"expected websocket.accept from the app, got {kind!r}")

    def _data(self, message: Message) -> Message:
        if message["type"] == "websocket.close":
            raise self._disconnect()
        if message["type"] != "websocket.send":
            raise RuntimeError(f"expected websocket.send from the app, got {message['type']!r}")
        return message

    def _unreported_error(self) -> Exception | None:
        ended = self._ended
        if ended is None or ended.error is None or ended.reported:
            return None
        ended.reported = True
        # A send refused because the test had already left is how the app learns of it.
        if self._client_closed and isinstance(ended.error, _ClientGone | WebSocketDisconnect):
            return None
        return ended.error

    def _check_send_allowed(self) -> None:
        if self._client_closed:
            raise _ClientGone("the test client closed the websocket")


def _denial(start: Message, bodies: list[Message]) -> WebSocketDenialResponse:
    for body in bodies:
        if body["type"] != "websocket.http.response.body":
            raise RuntimeError(f"expected websocket.http.response.body, got {body['type']!r}")
    content = b"".join(bytes(body.get("body", b"")) for body in bodies)
    headers = list(start.get("headers", ()))
    return WebSocketDenialResponse(start["status"], headers=headers, content=content)


class WebSocketTestSession(_WebSocketState):
    """A websocket to the app, opened by ``TestClient.websocket_connect``; use it in ``with``."""

    def __init__(self, app: ASGIApp, scope: Scope, portal_factory: PortalFactory) -> None:
        super().__init__(app, scope)
        self._portal_factory = portal_factory
        self._inbox = _Mailbox()  # test -> app, touched only on the portal's thread
        self._outbox: queue.Queue[Message | _AppEnded] = queue.Queue()  # app -> test
        self._stack = ExitStack()
        self._future: futures.Future[None] | None = None

    def __enter__(self) -> Self:
        self._portal = self._stack.enter_context(self._portal_factory())
        self._future = self._portal.start_task_soon(self._run_app)
        try:
            self.send({"type": "websocket.connect"})
            start = self.receive()
            if not self._accepts(start):
                raise self._read_denial(start)
        except BaseException:
            self._shut_down()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._shut_down()
        error = self._unreported_error()
        if error is not None:
            raise error

    async def _run_app(self) -> None:
        error: Exception | None = None
        try:
            await self.app(self.scope, self._inbox.get, self._app_send)
        except Exception as exc:  # handed to the test on its next receive or on exit
            error = exc
        finally:
            self._outbox.put(_AppEnded(error))

    async def _app_send(self, message: Message) -> None:
        self._check_send_allowed()
        self._outbox.put(dict(message))

    def _read_denial(self, start: Message) -> WebSocketDenialResponse:
        bodies = [self.receive()]
        while bodies[-1].get("more_body", False):
            bodies.append(self.receive())
        return _denial(start, bodies)

    def _shut_down(self) -> None:
        """Disconnect if the app still runs, wait for it (cancel past ``close_timeout``)."""
        try:
            assert self._future is not None
            if not self._future.done():
                if not self._client_closed:
                    self.close()
                done, _ = futures.wait([self._future], timeout=self.close_timeout)
                if not done:
                    self._future.cancel()
                    raise RuntimeError(
                        f"the websocket app still ran {self.close_timeout} s after the client "
                        "disconnected; it was cancelled"
                    )
        finally:
            self._stack.close()
        while self._ended is None and not self._outbox.empty():
            item = self._outbox.get_nowait()
            if isinstance(item, _AppEnded):
                self._ended = item

    def send(self, message: Message) -> None:
        """Send a raw ASGI message (``websocket.receive``, ``websocket.disconnect``) to the app."""
        self._portal.call(self._inbox.put, message)

    def send_text(self, data: str) -> None:
        self.send({"type": "websocket.receive", "text": data})

    def send_bytes(self, data: bytes) -> None:
        self.send({"type": "websocket.receive", "bytes": data})

    def send_json(self, data: Any, mode: JSONMode = "text") -> None:
        self.send(_json_message(data, mode))

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the websocket from the client's side."""
        self._client_closed = True
        self.send({"type": "websocket.disconnect", "code": code, "reason": reason or ""})

    def receive(self) -> Message:
        """The next raw ASGI message the app sent; raises if the app closed or raised."""
        self._check_open()
        return self._take(self._outbox.get())

    def receive_text(self) -> str:
        return _text_of(self._data(self.receive()))

    def receive_bytes(self) -> bytes:
        return _bytes_of(self._data(self.receive()))

    def receive_json(self, mode: JSONMode = "text") -> Any:
        return _json_of(self._data(self.receive()), mode)


class AsyncWebSocketTestSession(_WebSocketState):
    """A websocket to the app from ``AsyncTestClient.websocket_connect``; use ``async with``."""

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self._inbox = _Mailbox()  # test -> app
        self._outbox: deque[Message | _AppEnded] = deque()  # app -> test
        self._changed = _Signal()
        self._stack = AsyncExitStack()
        self._app_done = False

    async def __aenter__(self) -> Self:
        task_group = await self._stack.enter_async_context(anyio.create_task_group())
        self._cancel_scope = task_group.cancel_scope
        task_group.start_soon(self._run_app)
        try:
            await self.send({"type": "websocket.connect"})
            start = await self.receive()
            if not self._accepts(start):
                raise await self._read_denial(start)
        except BaseException:
            await self._shut_down()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shut_down()
        error = self._unreported_error()
        if error is not None:
            raise error

    async def _run_app(self) -> None:
        error: Exception | None = None
        try:
            await self.app(self.scope, self._inbox.get, self._app_send)
        except Exception as exc:  # handed to the test on its next receive or on exit
            error = exc
        finally:
            self._app_done = True
            self._push(_AppEnded(error))

    def _push(self, item: Message | _AppEnded) -> None:
        self._outbox.append(item)
        self._changed.fire()

    async def _app_send(self, message: Message) -> None:
        self._check_send_allowed()
        self._push(dict(message))

    async def _read_denial(self, start: Message) -> WebSocketDenialResponse:
        bodies = [await self.receive()]
        while bodies[-1].get("more_body", False):
            bodies.append(await self.receive())
        return _denial(start, bodies)

    async def _shut_down(self) -> None:
        try:
            if not self._app_done:
                if not self._client_closed:
                    await self.close()
                with anyio.move_on_after(self.close_timeout):
                    await self._changed.wait_for(lambda: self._app_done)
                if not self._app_done:
                    self._cancel_scope.cancel()
                    raise RuntimeError(
                        f"the websocket app still ran {self.close_timeout} s after the client "
                        "disconnected; it was cancelled"
                    )
        finally:
            await self._stack.aclose()
        for item in self._outbox:
            if isinstance(item, _AppEnded) and self._ended is None:
                self._ended = item

    async def send(self, message: Message) -> None:
        """Send a raw ASGI message (``websocket.receive``, ``websocket.disconnect``) to the app."""
        self._inbox.put(message)
        await anyio.lowlevel.checkpoint()

    async def send_text(self, data: str) -> None:
        await self.send({"type": "websocket.receive", "text": data})

    async def send_bytes(self, data: bytes) -> None:
        await self.send({"type": "websocket.receive", "bytes": data})

    async def send_json(self, data: Any, mode: JSONMode = "text") -> None:
        await self.send(_json_message(data, mode))

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the websocket from the client's side."""
        self._client_closed = True
        await self.send({"type": "websocket.disconnect", "code": code, "reason": reason or ""})

    async def receive(self) -> Message:
        """The next raw ASGI message the app sent; raises if the app closed or raised."""
        self._check_open()
        await self._changed.wait_for(lambda: bool(self._outbox))
        return self._take(self._outbox.popleft())

    async def receive_text(self) -> str:
        return _text_of(self._data(await self.receive()))

    async def receive_bytes(self) -> bytes:
        return _bytes_of(self._data(await self.receive()))

    async def receive_json(self, mode: JSONMode = "text") -> Any:
        return _json_of(self._data(await self.receive()), mode)


# --------------------------------------------------------------------------- clients


async def _close_lifespan(task_group: TaskGroup, lifespan: _Lifespan) -> None:
    """End the lifespan task and its task group without wrapping errors in a group."""
    lifespan.cancel()
    # Given no exception, the task group only waits for its (cancelled) task; handed the
    # test's exception it would re-raise it inside an ExceptionGroup.
    await task_group.__aexit__(None, None, None)


class TestClient(httpx.Client):
    """A synchronous httpx client whose requests run ``app`` in process.

    ``with TestClient(app) as client:`` also runs the app's lifespan around the block and
    keeps one event loop for all of it.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: CookieTypes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
        backend: str = "asyncio",
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self._connection = _Connection(root_path, client)
        self._backend = backend
        self._backend_options = backend_options
        self._portal: BlockingPortal | None = None
        self._session: ExitStack | None = None
        transport = _PortalTransport(
            app, self._connection, self._portal_in_use, raise_server_exceptions
        )
        super().__init__(
            base_url=base_url,
            headers=_client_headers(headers),
            transport=transport,
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    @property
    def app_state(self) -> dict[str, Any]:
        """What the app stored in its lifespan ``state``; each request gets a copy."""
        return self._connection.state

    @contextmanager
    def _portal_in_use(self) -> Iterator[BlockingPortal]:
        """The ``with`` block's portal, or a new one for a call made outside any block."""
        if self._portal is not None:
            yield self._portal
            return
        with anyio.from_thread.start_blocking_portal(
            self._backend, self._backend_options
        ) as portal:
            yield portal

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this TestClient is already open in a with block")
        with ExitStack() as stack:
            portal = stack.enter_context(
                anyio.from_thread.start_blocking_portal(self._backend, self._backend_options)
            )
            lifespan = portal.call(_Lifespan, self.app, self._connection.state)
            portal.start_task_soon(lifespan.run)
            stack.callback(portal.call, lifespan.cancel)
            portal.call(lifespan.startup)
            # Registered only now: an app whose startup failed is not asked to shut down.
            stack.callback(portal.call, lifespan.shutdown)
            self._portal = portal
            self._session = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        session, self._session = self._session, None
        self._portal = None
        if session is not None:
            session.close()

    def websocket_connect(
        self,
        url: str | httpx.URL,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebSocketTestSession:
        """Open a websocket to ``url``; use the result in a ``with`` block."""
        subprotocols = list(subprotocols or ())
        request = self.build_request("GET", url, headers=_handshake_headers(subprotocols, headers))
        scope = _websocket_scope(request, self._connection, subprotocols)
        return WebSocketTestSession(self.app, scope, self._portal_in_use)


class AsyncTestClient(httpx.AsyncClient):
    """An async httpx client whose requests run ``app`` on the caller's event loop.

    ``async with AsyncTestClient(app) as client:`` also runs the app's lifespan.
    """

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: CookieTypes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.app = app
        self._connection = _Connection(root_path, client)
        self._session: tuple[TaskGroup, _Lifespan] | None = None
        super().__init__(
            base_url=base_url,
            headers=_client_headers(headers),
            transport=_AsyncTransport(app, self._connection, raise_server_exceptions),
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    @property
    def app_state(self) -> dict[str, Any]:
        """What the app stored in its lifespan ``state``; each request gets a copy."""
        return self._connection.state

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this AsyncTestClient is already open in an async with block")
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        lifespan = _Lifespan(self.app, self._connection.state)
        task_group.start_soon(lifespan.run)
        try:
            await lifespan.startup()
        except BaseException:
            await _close_lifespan(task_group, lifespan)
            raise
        self._session = (task_group, lifespan)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        task_group, lifespan = session
        try:
            await lifespan.shutdown()
        finally:
            await _close_lifespan(task_group, lifespan)

    def websocket_connect(
        self,
        url: str | httpx.URL,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncWebSocketTestSession:
        """Open a websocket to ``url``; use the result in an ``async with`` block."""
        subprotocols = list(subprotocols or ())
        request = self.build_request("GET", url, headers=_handshake_headers(subprotocols, headers))
        scope = _websocket_scope(request, self._connection, subprotocols)
        return AsyncWebSocketTestSession(self.app, scope)
