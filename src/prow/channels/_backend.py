"""What a channel backend does, and the errors every backend raises.

A backend is opened once per event loop (a ``redis.asyncio`` client or an asyncpg
connection belongs to the loop that made it); the :class:`Connection` it returns
publishes, replays retained history, and listens for every message published by any
process, handing each to the loop's local fan-out.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from prow._exceptions import HTTPError

__all__ = [
    "ChannelBackend",
    "ChannelError",
    "ChannelsUnavailable",
    "Connection",
    "Deliver",
    "check_channel",
]

#: Seconds a client waits before retrying after a 503 of the channels' backend.
RETRY_AFTER_SECONDS = 1

#: The longest channel name (a Redis key / PostgreSQL text; long names are a mistake).
MAX_CHANNEL_LENGTH = 200

# Printable, no whitespace: a name travels in framed messages and SSE ids and logs.
_CHANNEL_NAME = re.compile(rf"[!-~]{{1,{MAX_CHANNEL_LENGTH}}}")

#: ``deliver(channel, id, payload)``: hand one message to the loop's subscribers.
Deliver = Callable[[str, str, str], None]


class ChannelError(ValueError):
    """A channel name or a ``Last-Event-ID`` that cannot be used (a client's mistake: 400)."""


class ChannelsUnavailable(HTTPError):
    """The channels' backend cannot be reached now: answered 503 with ``Retry-After``.

    Raised by ``publish`` and by a subscription's start; a subscription already running
    does not raise it but waits and reconnects, then replays what it missed.
    """

    def __init__(self, detail: str = "Publish/subscribe is temporarily unavailable") -> None:
        super().__init__(503, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def check_channel(name: str) -> str:
    """``name`` if it is a usable channel name, else :class:`ChannelError`."""
    if not isinstance(name, str) or _CHANNEL_NAME.fullmatch(name) is None:
        raise ChannelError(
            f"a channel name is 1 to {MAX_CHANNEL_LENGTH} printable ASCII characters "
            f"without spaces, got {name!r}"
        )
    return name


class Connection(Protocol):
    """One event loop's connection to a backend."""

    async def publish(self, channel: str, payload: str) -> str:
        """Store ``payload`` in ``channel``'s history, send it to every listener, return its id."""
        ...

    async def replay(self, channel: str, after: str) -> list[tuple[str, str]]:
        """The retained ``(id, payload)`` of ``channel`` published after ``after``, oldest first."""
        ...

    async def latest(self, channel: str) -> str:
        """The id of ``channel``'s newest retained message, or the backend's zero id."""
        ...

    async def listen(self, deliver: Deliver, ready: Callable[[], Awaitable[None]]) -> None:
        """Receive every message published on any channel until the connection fails.

        Awaits ``ready()`` once it is listening; raises an ``OSError`` (or the backend's
        connection error) when the connection is lost.
        """
        ...

    async def ping(self) -> None:
        """Raise when the backend does not answer."""
        ...

    def order(self, message_id: str) -> tuple[int, ...]:
        """A sortable key of ``message_id``; :class:`ChannelError` when it is malformed."""
        ...

    async def aclose(self) -> None:
        """Close what the connection opened."""
        ...


@runtime_checkable
class ChannelBackend(Protocol):
    """Makes a :class:`Connection` for the running event loop."""

    def connect(self) -> Connection:
        """A new connection, used from the running loop only."""
        ...

    def outage_errors(self) -> tuple[type[BaseException], ...]:
        """The errors that mean "the backend cannot be reached now"."""
        ...


def integer_order(message_id: str) -> tuple[int, ...]:
    """The order of a decimal id (memory and PostgreSQL backends)."""
    if not message_id.isdigit() or len(message_id) > 19:
        raise ChannelError(f"not a message id of this channel backend: {message_id!r}")
    return (int(message_id),)


def describe(value: Any) -> str:
    return type(value).__name__
