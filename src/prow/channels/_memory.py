"""The in-process backend: messages reach subscribers of this process only."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Awaitable, Callable

from prow.channels._backend import Connection, Deliver, integer_order

__all__ = ["MemoryChannelBackend"]


class MemoryChannelBackend:
    """Publish/subscribe inside one process, with the last ``history`` messages per channel.

    The default: right for one worker and for tests. Several workers each have their own,
    so a message published on one never reaches a client of another: use
    ``RedisChannelBackend`` or ``PostgresChannelBackend`` there.
    """

    def __init__(self, history: int = 1000) -> None:
        self.history = history
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._messages: dict[str, deque[tuple[str, str]]] = {}
        self._listeners: dict[int, tuple[asyncio.AbstractEventLoop, Deliver]] = {}

    def __repr__(self) -> str:
        return f"MemoryChannelBackend(history={self.history})"

    def connect(self) -> Connection:
        return _MemoryConnection(self)

    def outage_errors(self) -> tuple[type[BaseException], ...]:
        return ()

    def _publish(self, channel: str, payload: str) -> str:
        with self._lock:
            message_id = str(next(self._ids))
            kept = self._messages.setdefault(channel, deque(maxlen=self.history))
            kept.append((message_id, payload))
            listeners = list(self._listeners.values())
        for loop, deliver in listeners:
            # Each listener's loop may run in another thread (a test client's, say).
            loop.call_soon_threadsafe(deliver, channel, message_id, payload)
        return message_id

    def _replay(self, channel: str, after: str) -> list[tuple[str, str]]:
        start = integer_order(after)
        with self._lock:
            kept = list(self._messages.get(channel, ()))
        return [item for item in kept if integer_order(item[0]) > start]


class _MemoryConnection:
    def __init__(self, backend: MemoryChannelBackend) -> None:
        self.backend = backend

    async def publish(self, channel: str, payload: str) -> str:
        return self.backend._publish(channel, payload)

    async def replay(self, channel: str, after: str) -> list[tuple[str, str]]:
        return self.backend._replay(channel, after)

    async def latest(self, channel: str) -> str:
        with self.backend._lock:
            kept = self.backend._messages.get(channel)
            return kept[-1][0] if kept else "0"

    async def listen(self, deliver: Deliver, ready: Callable[[], Awaitable[None]]) -> None:
        key = id(deliver)
        with self.backend._lock:
            self.backend._listeners[key] = (asyncio.get_running_loop(), deliver)
        try:
            await ready()
            await asyncio.Event().wait()  # until cancelled
        finally:
            with self.backend._lock:
                self.backend._listeners.pop(key, None)

    async def ping(self) -> None:
        return None

    def order(self, message_id: str) -> tuple[int, ...]:
        return integer_order(message_id)

    async def aclose(self) -> None:
        return None
