"""The ``Channels`` extension: publish, subscribe, and the loop-local fan-out between them."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pydantic_core

from prow._exceptions import ConfigurationError, HTTPError
from prow.channels._backend import (
    ChannelBackend,
    ChannelError,
    ChannelsUnavailable,
    Connection,
    check_channel,
)
from prow.extensions import Extension

if TYPE_CHECKING:
    from prow._app import App
    from prow._request import Request
    from prow._websocket import WebSocket
    from prow.responses import EventSourceResponse, ServerSentEvent

__all__ = ["ChannelMessage", "Channels", "SlowSubscriber", "Subscription"]

logger = logging.getLogger("prow.channels")

#: Seconds between reconnection attempts of a lost listener: doubled up to the maximum.
_FIRST_RETRY = 0.05
_MAX_RETRY = 2.0


class SlowSubscriber(RuntimeError):
    """A subscriber fell more than ``queue_size`` messages behind and was dropped.

    Its messages are not lost: a new subscription with the last id it saw
    (``last_event_id=``, or an SSE client's ``Last-Event-ID``) replays them from history.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelMessage:
    """One published message: its channel, its id (the SSE event id) and its data."""

    channel: str
    id: str
    data: Any

    def sse(self, event: str | None = None) -> ServerSentEvent:
        """The message as a server-sent event whose id is the message's."""
        from prow.responses import ServerSentEvent

        return ServerSentEvent(data=self.data, id=self.id, event=event)


class Channels(Extension):
    """Publish/subscribe across workers and machines.

    ::

        app = App(extensions=[Channels("redis://cache:6379/0")])

        @app.post("/rooms/{room}/messages", status_code=202)
        async def post(room: str, text: str, channels: Channels) -> None:
            await channels.publish(f"room:{room}", {"text": text})

        @app.get("/rooms/{room}/events")
        async def events(room: str, request: Request, channels: Channels) -> EventSourceResponse:
            return await channels.sse(request, f"room:{room}")

    ``backend`` is a URL (``redis://``, ``rediss://``, ``postgresql://``, ``memory://``)
    or a backend object; without one, ``PROW_CHANNELS_URL`` or else the in-process
    ``MemoryChannelBackend``. ``history`` messages per channel are kept for replay.
    ``timeout`` bounds a publish, a replay and the wait for the backend when a subscription
    starts (then ``ChannelsUnavailable``: 503). A subscriber more than ``queue_size``
    messages behind is dropped (``SlowSubscriber``) rather than slowing everyone.
    """

    def __init__(
        self,
        backend: ChannelBackend | str | None = None,
        *,
        history: int = 1000,
        timeout: float = 2.0,
        queue_size: int = 1000,
    ) -> None:
        if not isinstance(history, int) or isinstance(history, bool) or history < 1:
            raise ConfigurationError(
                "prow.E341", f"Channels(history=...) must be a positive int, got {history!r}"
            )
        if not isinstance(queue_size, int) or queue_size < 1 or not timeout > 0:
            raise ConfigurationError(
                "prow.E342",
                f"Channels(timeout={timeout!r}, queue_size={queue_size!r}): the timeout must "
                "be a positive number of seconds and the queue size a positive int",
            )
        if backend is None:
            backend = os.environ.get("PROW_CHANNELS_URL") or "memory://"
        self.backend: ChannelBackend = (
            backend_from_url(backend, history) if isinstance(backend, str) else backend
        )
        if not isinstance(self.backend, ChannelBackend):
            raise ConfigurationError(
                "prow.E340",
                f"{backend!r} is not a channel backend; pass a URL (redis://, postgresql://, "
                "memory://) or an object with connect() and outage_errors()",
            )
        self.timeout = float(timeout)
        self.queue_size = queue_size
        self._loops: dict[asyncio.AbstractEventLoop, _LoopState] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Channels({self.backend!r})"

    # -- the running loop's connection and listener ---------------------------------

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            with self._lock:
                state = self._loops.get(loop)
                if state is None:
                    state = _LoopState(self, self.backend.connect())
                    live = {k: v for k, v in self._loops.items() if not k.is_closed()}
                    self._loops = {**live, loop: state}
        return state

    async def _call(self, coroutine: Any) -> Any:
        """Await a backend call within the timeout; an outage becomes ``ChannelsUnavailable``."""
        try:
            async with asyncio.timeout(self.timeout):
                return await coroutine
        except TimeoutError:
            logger.warning("channels backend %r timed out", self.backend)
            raise ChannelsUnavailable() from None
        except self.backend.outage_errors() as exc:
            logger.warning("channels backend %r unavailable: %s", self.backend, exc)
            raise ChannelsUnavailable() from exc

    # -- the public API -------------------------------------------------------------

    async def publish(self, channel: str, data: Any) -> ChannelMessage:
        """Send ``data`` (JSON-encodable by pydantic-core) to every subscriber of ``channel``.

        Returns the message with its id. Raises ``ChannelError`` for a malformed channel
        name, ``ChannelsUnavailable`` (503) when the backend cannot be reached.
        """
        check_channel(channel)
        payload = pydantic_core.to_json(data).decode()
        state = self._state()
        message_id = await self._call(state.connection.publish(channel, payload))
        return ChannelMessage(channel, message_id, pydantic_core.from_json(payload))

    def subscribe(self, channel: str, *, last_event_id: str | None = None) -> Subscription:
        """The messages published on ``channel`` from now on (``async for``).

        With ``last_event_id``, first those published after that message that history still
        holds. A running subscription survives an outage of the backend: it waits, and
        replays what it missed once the backend is back.
        """
        return Subscription(self, check_channel(channel), last_event_id)

    async def sse(
        self,
        request: Request,
        channel: str,
        *,
        event: str | None = None,
        ping_interval: float | None = 15.0,
    ) -> EventSourceResponse:
        """A server-sent event stream of ``channel``, resuming after the ``Last-Event-ID``.

        A browser's ``EventSource`` sends that header when it reconnects, so a client that
        lost its connection gets what it missed (within history). A malformed id is
        answered 400, a backend that is down 503, before the stream starts.
        """
        from prow.responses import EventSourceResponse

        last = request.headers.get("last-event-id") or None
        subscription = self.subscribe(channel, last_event_id=last)
        try:
            await subscription.start()
        except ChannelError as exc:
            raise HTTPError(400, str(exc)) from None
        return EventSourceResponse(_events(subscription, event), ping_interval=ping_interval)

    async def relay(
        self, websocket: WebSocket, channel: str, *, last_event_id: str | None = None
    ) -> None:
        """Send each message of ``channel`` to ``websocket`` until the client leaves.

        Each goes out as JSON ``{"channel": ..., "id": ..., "data": ...}``; what the client
        sends is read and ignored. Accepts the websocket if it is not yet accepted. A
        subscriber too slow to keep up is closed with code 1013 ("try again later").
        """
        from prow._websocket import WebSocketState

        subscription = self.subscribe(channel, last_event_id=last_event_id)
        await subscription.start()
        if websocket.client_state is WebSocketState.CONNECTING:
            await websocket.accept()
        async with subscription:
            forward = asyncio.get_running_loop().create_task(_forward(subscription, websocket))
            try:
                kind = ""
                while kind != "websocket.disconnect":
                    kind = (await websocket.receive())["type"]
            finally:
                forward.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forward

    async def check(self) -> None:
        """Raise ``ChannelsUnavailable`` unless the backend answers within the timeout."""
        await self._call(self._state().connection.ping())

    # -- the extension's life -------------------------------------------------------

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): the backend answers (one ``PING`` or ``SELECT 1``)."""
        await self.check()

    async def release(self, app: App) -> None:
        """Stop this loop's listener and close its connection; the next use reopens them."""
        await self.aclose()

    async def aclose(self) -> None:
        """The same as :meth:`release`, for channels used outside an app."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._loops.get(loop)
            self._loops = {k: v for k, v in self._loops.items() if k is not loop}
        if state is not None:
            await state.aclose()


async def _events(subscription: Subscription, event: str | None) -> AsyncIterator[Any]:
    async with subscription:
        try:
            async for message in subscription:
                yield message.sse(event)
        except SlowSubscriber:
            # The browser reconnects with Last-Event-ID and replays what it missed.
            logger.info("dropped a slow SSE subscriber of %s", subscription.channel)


async def _forward(subscription: Subscription, websocket: WebSocket) -> None:
    try:
        async for message in subscription:
            await websocket.send_json(
                {"channel": message.channel, "id": message.id, "data": message.data}
            )
    except SlowSubscriber:
        await websocket.close(1013, "too slow: reconnect with the last id received")
    except OSError:
        pass  # the client left; the receiving side sees the disconnect


def backend_from_url(url: str, history: int) -> ChannelBackend:
    """The backend a URL names (``prow.E340`` for a scheme none handles)."""
    scheme = url.partition("://")[0].partition("+")[0].lower()
    if scheme == "memory":
        from prow.channels._memory import MemoryChannelBackend

        return MemoryChannelBackend(history)
    if scheme in {"redis", "rediss", "unix"}:
        from prow.channels._redis import RedisChannelBackend

        return RedisChannelBackend(url, history=history)
    if scheme in {"postgresql", "postgres"}:
        from prow.channels._postgres import PostgresChannelBackend

        return PostgresChannelBackend(url, history=history)
    shown = url if "@" not in url else f"{scheme}://..."
    raise ConfigurationError(
        "prow.E340",
        f"no channel backend for {shown!r}: use redis://, rediss://, postgresql:// or memory://",
    )


class _LoopState:
    """One event loop's backend connection, its listener and its subscribers by channel."""

    def __init__(self, channels: Channels, connection: Connection) -> None:
        self.channels = channels
        self.connection = connection
        self.subscribers: dict[str, set[Subscription]] = {}
        self.ready = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._connected_before = False

    async def listening(self) -> None:
        """Start the listener if needed and wait until it listens (or 503 after the timeout)."""
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        if self.ready.is_set():
            return
        try:
            async with asyncio.timeout(self.channels.timeout):
                await self.ready.wait()
        except TimeoutError:
            raise ChannelsUnavailable() from None

    def deliver(self, channel: str, message_id: str, payload: str) -> None:
        for subscription in self.subscribers.get(channel, ()):
            subscription._push((message_id, payload))

    async def _listen(self) -> None:
        delay = _FIRST_RETRY
        while True:
            try:
                await self.connection.listen(self.deliver, self._on_ready)
                problem: object = "the listener returned"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage, or a bug: either way, retry
                problem = exc
            if self.ready.is_set():
                logger.warning("channels listener lost (%s); reconnecting", problem)
                self.ready.clear()
                delay = _FIRST_RETRY
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY)

    async def _on_ready(self) -> None:
        if self._connected_before:
            logger.info("channels listener reconnected; replaying missed messages")
            for subscriptions in self.subscribers.values():
                for subscription in subscriptions:
                    subscription._resync = True
                    subscription._wake.set()
        self._connected_before = True
        self.ready.set()

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        for subscriptions in list(self.subscribers.values()):
            for subscription in list(subscriptions):
                subscription._end()
        await self.connection.aclose()


class Subscription:
    """The messages of one channel, as an async iterator (``async for``) and context manager.

    Iterating starts it; :meth:`start` starts it earlier, so that a backend outage (503) or
    a malformed ``last_event_id`` (``ChannelError``) is raised before anything was sent.
    :meth:`aclose` (or leaving ``async with``) ends it.
    """

    def __init__(self, channels: Channels, channel: str, last_event_id: str | None) -> None:
        self.channels = channels
        self.channel = channel
        self.last_id = last_event_id
        self._last_key: tuple[int, ...] | None = None
        self._queue: deque[tuple[str, str]] = deque()
        self._wake = asyncio.Event()
        self._state: _LoopState | None = None
        self._resync = last_event_id is not None
        self._overflowed = False
        self._closed = False

    async def start(self) -> None:
        """Listen (and replay after ``last_event_id``); idempotent."""
        if self._state is not None or self._closed:
            return
        state = self.channels._state()
        if self.last_id is not None:
            self._last_key = state.connection.order(self.last_id)
        await state.listening()
        if self.last_id is None:
            # Anchor at the channel's newest message, then replay from it once listening:
            # nothing published meanwhile is missed, nor anything during a later outage.
            self.last_id = await self.channels._call(state.connection.latest(self.channel))
            self._last_key = state.connection.order(self.last_id)
            self._resync = True
        state.subscribers.setdefault(self.channel, set()).add(self)
        self._state = state
        try:
            await self._replay()
        except BaseException:
            self._end()
            raise

    async def _replay(self) -> None:
        if not self._resync:
            return
        self._resync = False
        if self.last_id is None or self._state is None:
            return
        missed = await self.channels._call(
            self._state.connection.replay(self.channel, self.last_id)
        )
        self._queue.extendleft(reversed(missed))

    def _push(self, item: tuple[str, str]) -> None:
        if len(self._queue) >= self.channels.queue_size:
            self._overflowed = True
        else:
            self._queue.append(item)
        self._wake.set()

    def _end(self) -> None:
        self._closed = True
        if self._state is not None:
            subscribers = self._state.subscribers.get(self.channel)
            if subscribers is not None:
                subscribers.discard(self)
                if not subscribers:
                    del self._state.subscribers[self.channel]
        self._wake.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> ChannelMessage:
        await self.start()
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._resync and not self._overflowed:
                await self._resync_after_outage()
                continue
            if self._queue:
                message = self._next_new()
                if message is not None:
                    return message
                continue
            if self._overflowed:  # what it holds is delivered; what it dropped is not
                self._end()
                raise SlowSubscriber(
                    f"a subscriber of {self.channel!r} fell {self.channels.queue_size} "
                    f"messages behind; resubscribe with last_event_id={self.last_id!r}"
                )
            self._wake.clear()
            await self._wake.wait()

    async def _resync_after_outage(self) -> None:
        try:
            await self._replay()
        except ChannelsUnavailable:
            self._resync = True  # down again: try once the listener is back
            await asyncio.sleep(_MAX_RETRY / 4)

    def _next_new(self) -> ChannelMessage | None:
        assert self._state is not None
        message_id, payload = self._queue.popleft()
        key = self._state.connection.order(message_id)
        if self._last_key is not None and key <= self._last_key:
            return None  # already seen (a replay and the live stream overlap)
        self._last_key = key
        self.last_id = message_id
        return ChannelMessage(self.channel, message_id, pydantic_core.from_json(payload))

    async def aclose(self) -> None:
        """Stop receiving; the iterator ends."""
        self._end()

    async def __aenter__(self) -> Subscription:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
