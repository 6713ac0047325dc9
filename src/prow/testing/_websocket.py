"""Websocket sessions to the app: the async one, and the sync one that drives it on a portal."""

from __future__ import annotations

import json
from collections import deque
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import anyio
import anyio.lowlevel
import httpx

from prow._exceptions import WebSocketDisconnect
from prow._types import ASGIApp, Message, Scope
from prow.testing._plumbing import Mailbox, PortalFactory, Signal

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

JSONMode = Literal["text", "binary"]


class WebSocketDenialResponse(httpx.Response, Exception):  # type: ignore[misc]
    """The app refused a websocket handshake with an HTTP response (``websocket.http.response``).

    It is both the exception ``websocket_connect`` raises and the response the app sent:
    ``status_code``, ``headers``, ``content``, ``json()``.
    """

    def __str__(self) -> str:
        return f"websocket handshake denied with HTTP {self.status_code}"


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
    """What a session knows about the conversation, and how it reads the app's messages."""

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


class AsyncWebSocketTestSession(_WebSocketState):
    """A websocket to the app from ``AsyncTestClient.websocket_connect``; use ``async with``.

    ``WebSocketTestSession`` runs one of these on a blocking portal, so both behave alike.
    """

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self._inbox = Mailbox()  # test -> app
        self._outbox: deque[Message | _AppEnded] = deque()  # app -> test
        self._changed = Signal()
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
        # A server's send waits on the socket; yielding here likewise lets the test run between
        # the app's messages, and close the websocket on an app that sends and never reads.
        await anyio.lowlevel.checkpoint()

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


class WebSocketTestSession:
    """A websocket to the app, opened by ``TestClient.websocket_connect``; use it in ``with``.

    It is an ``AsyncWebSocketTestSession`` run on the client's blocking portal: each method
    waits, in the test's thread, for its async twin to finish on the portal's event loop.
    """

    def __init__(self, app: ASGIApp, scope: Scope, portal_factory: PortalFactory) -> None:
        self._session = AsyncWebSocketTestSession(app, scope)
        self._portal_factory = portal_factory
        self._portal: BlockingPortal | None = None
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        with ExitStack() as stack:
            portal = stack.enter_context(self._portal_factory())
            # One portal task enters and leaves the async session, as its task group requires.
            stack.enter_context(portal.wrap_async_context_manager(self._session))
            self._portal = portal
            self._stack = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._portal = None
        self._stack.close()

    @property
    def app(self) -> ASGIApp:
        return self._session.app

    @property
    def scope(self) -> Scope:
        return self._session.scope

    @property
    def accepted_subprotocol(self) -> str | None:
        return self._session.accepted_subprotocol

    @property
    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        return self._session.extra_headers

    @property
    def close_timeout(self) -> float:
        """Seconds to wait, on leaving the session, for the app to finish after the disconnect."""
        return self._session.close_timeout

    @close_timeout.setter
    def close_timeout(self, seconds: float) -> None:
        self._session.close_timeout = seconds

    def _in_portal(self) -> BlockingPortal:
        if self._portal is None:
            raise RuntimeError("use the websocket session in a with block")
        return self._portal

    def send(self, message: Message) -> None:
        """Send a raw ASGI message (``websocket.receive``, ``websocket.disconnect``) to the app."""
        self._in_portal().call(self._session.send, message)

    def send_text(self, data: str) -> None:
        self._in_portal().call(self._session.send_text, data)

    def send_bytes(self, data: bytes) -> None:
        self._in_portal().call(self._session.send_bytes, data)

    def send_json(self, data: Any, mode: JSONMode = "text") -> None:
        self._in_portal().call(self._session.send_json, data, mode)

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the websocket from the client's side."""
        self._in_portal().call(self._session.close, code, reason)

    def receive(self) -> Message:
        """The next raw ASGI message the app sent; raises if the app closed or raised."""
        return self._in_portal().call(self._session.receive)

    def receive_text(self) -> str:
        return self._in_portal().call(self._session.receive_text)

    def receive_bytes(self) -> bytes:
        return self._in_portal().call(self._session.receive_bytes)

    def receive_json(self, mode: JSONMode = "text") -> Any:
        return self._in_portal().call(self._session.receive_json, mode)
