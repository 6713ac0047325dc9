"""Publish/subscribe across workers and machines: ``prow.channels``.

::

    from prow import App, Request, WebSocket
    from prow.channels import Channels

    app = App(extensions=[Channels("redis://cache:6379/0")])

    @app.post("/rooms/{room}", status_code=202)
    async def say(room: str, text: str, channels: Channels) -> None:
        await channels.publish(f"room:{room}", {"text": text})

    @app.get("/rooms/{room}/events")          # server-sent events, resumable
    async def events(room: str, request: Request, channels: Channels):
        return await channels.sse(request, f"room:{room}")

    @app.websocket("/rooms/{room}/ws")
    async def ws(room: str, websocket: WebSocket, channels: Channels) -> None:
        await channels.relay(websocket, f"room:{room}")

Backends: ``MemoryChannelBackend`` (one process; the default), ``RedisChannelBackend``
(pub/sub, and a stream per channel for history) and ``PostgresChannelBackend``
(``LISTEN``/``NOTIFY`` and a table). ``import prow`` never imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow.channels._backend import (
    ChannelBackend,
    ChannelError,
    ChannelsUnavailable,
    Connection,
)
from prow.channels._channels import ChannelMessage, Channels, SlowSubscriber, Subscription
from prow.channels._memory import MemoryChannelBackend

if TYPE_CHECKING:
    from prow.channels._postgres import PostgresChannelBackend
    from prow.channels._redis import RedisChannelBackend

__all__ = [
    "ChannelBackend",
    "ChannelError",
    "ChannelMessage",
    "Channels",
    "ChannelsUnavailable",
    "Connection",
    "MemoryChannelBackend",
    "PostgresChannelBackend",
    "RedisChannelBackend",
    "SlowSubscriber",
    "Subscription",
]


def __getattr__(name: str) -> Any:
    # The Redis and PostgreSQL backends import their drivers' helpers only when named.
    if name == "RedisChannelBackend":
        from prow.channels._redis import RedisChannelBackend

        return RedisChannelBackend
    if name == "PostgresChannelBackend":
        from prow.channels._postgres import PostgresChannelBackend

        return PostgresChannelBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
