"""Server-sent events: a stream of ``text/event-stream`` messages with keep-alive pings."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from typing import Any

import anyio
import pydantic_core
from anyio.abc import TaskGroup

from prow._types import Message, Send
from prow.background import BackgroundTask
from prow.responses._streaming import (
    StreamingResponse,
    aclose_quietly,
    iterate_in_thread,
)

__all__ = ["EventSourceResponse", "ServerSentEvent"]

_PING = b": ping\n\n"


def _lines(text: str) -> list[str]:
    """Split on every line ending the SSE grammar knows (CRLF, CR, LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _check_single_line(field: str, value: str) -> None:
    # A newline in ``id`` or ``event`` would end the field early and let the rest of
    # the value be read as new fields (event injection); NUL makes browsers drop ``id``.
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"the SSE {field} must not contain a newline or NUL: {value!r}")


@dataclasses.dataclass(slots=True)
class ServerSentEvent:
    """One event in the stream.

    ``data`` that is not a ``str`` is JSON-encoded with pydantic-core (models, dicts,
    dates...). Multi-line ``data`` and ``comment`` become one line each on the wire.
    ``retry`` is the reconnection delay in milliseconds the browser should use.
    """

    data: Any = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        if self.id is not None:
            _check_single_line("id", self.id)
        if self.event is not None:
            _check_single_line("event", self.event)
        if self.retry is not None and (not isinstance(self.retry, int) or self.retry < 0):
            raise ValueError(f"the SSE retry must be a non-negative int, got {self.retry!r}")

    def encode(self) -> bytes:
        """The event in wire format, ending with the blank line that dispatches it."""
        out: list[str] = []
        if self.comment is not None:
            out.extend(f": {line}" for line in _lines(self.comment))
        if self.id is not None:
            out.append(f"id: {self.id}")
        if self.event is not None:
            out.append(f"event: {self.event}")
        if self.retry is not None:
            out.append(f"retry: {self.retry}")
        if self.data is not None:
            out.extend(f"data: {line}" for line in _lines(self._data_text()))
        return ("\n".join(out) + "\n\n").encode("utf-8")

    def _data_text(self) -> str:
        if isinstance(self.data, str):
            return self.data
        if isinstance(self.data, bytes | bytearray):
            return bytes(self.data).decode("utf-8")
        return pydantic_core.to_json(self.data, inf_nan_mode="null").decode("utf-8")


EventStream = AsyncIterable[ServerSentEvent | str | Any] | Iterable[ServerSentEvent | str | Any]


async def _encode_events(items: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    iterator = aiter(items)
    try:
        async for item in iterator:
            event = item if isinstance(item, ServerSentEvent) else ServerSentEvent(data=item)
            yield event.encode()
    finally:
        # Closing this wrapper must close the user's generator too, right away.
        await aclose_quietly(iterator)


class _Pinger:
    """Serialises sends and, while no event goes out for ``interval`` seconds, sends a ping.

    The ping is an SSE comment, ignored by browsers; it keeps proxies and load
    balancers from closing a connection they think is idle.
    """

    def __init__(self, send: Send, interval: float) -> None:
        self._send = send
        self._interval = interval
        self._lock = anyio.Lock()
        self._last = anyio.current_time()
        self._done = False

    async def send(self, message: Message) -> None:
        async with self._lock:
            if self._done:
                return
            await self._send(message)
            self._last = anyio.current_time()
            self._done = not message.get("more_body", False)

    async def run(self) -> None:
        ping = {"type": "http.response.body", "body": _PING, "more_body": True}
        try:
            while not self._done:
                await anyio.sleep(self._last + self._interval - anyio.current_time())
                if anyio.current_time() - self._last >= self._interval:
                    await self.send(ping)
        except OSError:
            pass  # the client left; the main stream notices on its own next send


class EventSourceResponse(StreamingResponse):
    """Stream server-sent events from a sync or async iterable.

    Items may be :class:`ServerSentEvent`, ``str`` (sent as data) or anything
    pydantic-core can JSON-encode (sent as JSON data). A ``: ping`` comment goes out
    every ``ping_interval`` seconds while the iterable is idle (``None`` disables it).
    The stream ends when the iterable ends or the client disconnects.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        content: EventStream,
        *,
        ping_interval: float | None = 15.0,
        headers: Mapping[str, str] | None = None,
        status_code: int = 200,
        background: BackgroundTask | None = None,
    ) -> None:
        if ping_interval is not None and ping_interval <= 0:
            raise ValueError("ping_interval must be positive or None")
        items = content if isinstance(content, AsyncIterable) else iterate_in_thread(content)
        merged = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        # User headers win, compared case-insensitively.
        for key, value in (headers or {}).items():
            merged = {k: v for k, v in merged.items() if k.lower() != key.lower()}
            merged[key] = value
        super().__init__(_encode_events(items), status_code, merged, None, background)
        self.ping_interval = ping_interval

    async def _send_body(self, send: Send, group: TaskGroup) -> None:
        if self.ping_interval is None:
            await super()._send_body(send, group)
            return
        pinger = _Pinger(send, self.ping_interval)
        group.start_soon(pinger.run)
        await super()._send_body(pinger.send, group)
