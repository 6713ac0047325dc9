"""One ``redis.asyncio`` client per running event loop, for the stores that keep state in Redis.

A ``redis.asyncio`` connection belongs to the event loop that opened it: used from another
loop it fails ("Event loop is closed", "attached to a different loop"). One app, and so one
store, can be served from more than one loop: a test client runs a loop per ``with`` block
(or per request), a server may run a loop per thread. So a store built from a URL gives each
loop a client of its own, made on first use there, and closes it when that loop shuts the
app down. redis-py is an optional extra: it is imported only when such a store is built.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["DEFAULT_TIMEOUT", "LoopClients", "outage_errors", "redis_asyncio"]

#: Seconds to connect to Redis, and for each command, unless the store says otherwise.
#: Without a limit, a frozen Redis would hold every request that touches it forever.
DEFAULT_TIMEOUT = 5.0


def redis_asyncio() -> Any:
    """The ``redis.asyncio`` module, or an error that says how to install it."""
    try:
        import redis.asyncio
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "Redis stores need redis-py; install it with: pip install 'prow[redis]'",
            name=exc.name,
        ) from exc
    return redis.asyncio


def outage_errors() -> tuple[type[Exception], ...]:
    """The errors that mean "Redis cannot be reached now" (not a bug: a script or auth error)."""
    aio = redis_asyncio()
    return (OSError, aio.ConnectionError, aio.TimeoutError)


class LoopClients:
    """Hands out the running loop's Redis client.

    ``LoopClients(url, **options)`` makes one client per loop with
    ``redis.asyncio.from_url(url, **options)`` and ``aclose()`` closes them; the
    connect and command timeouts default to :data:`DEFAULT_TIMEOUT` (a URL's own
    ``?socket_timeout=`` wins).
    ``LoopClients(client)`` hands out that client everywhere and never closes it: a client
    the user made is the user's, loop included.
    """

    __slots__ = ("_by_loop", "_lock", "_options", "_own", "_url")

    def __init__(self, url_or_client: str | Redis, **options: Any) -> None:
        self._url: str | None = None
        self._own: Redis | None = None
        if isinstance(url_or_client, str):
            redis_asyncio()  # a missing extra fails when the store is built, not when serving
            self._url = url_or_client
        else:
            self._own = url_or_client
        self._options = {
            "socket_connect_timeout": DEFAULT_TIMEOUT,
            "socket_timeout": DEFAULT_TIMEOUT,
            **options,
        }
        # Read without the lock on every request; replaced whole (never changed in place)
        # under it, so a loop in another thread never sees a half-made dict.
        self._by_loop: dict[asyncio.AbstractEventLoop, Redis] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        if self._url is None:
            return repr(self._own)
        parts = urlsplit(self._url)
        if parts.password is None:
            return repr(self._url)
        # Stores show up in logs and error messages: never with the password.
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return repr(parts._replace(netloc=netloc).geturl())

    @property
    def owned(self) -> bool:
        """Whether the clients are made (and closed) here, rather than passed in."""
        return self._url is not None

    def get(self) -> Redis:
        """The client of the running event loop, made on first use in that loop."""
        if self._own is not None:
            return self._own
        loop = asyncio.get_running_loop()
        client = self._by_loop.get(loop)
        return client if client is not None else self._add(loop)

    def _add(self, loop: asyncio.AbstractEventLoop) -> Redis:
        assert self._url is not None
        with self._lock:
            client = self._by_loop.get(loop)
            if client is None:
                client = redis_asyncio().from_url(self._url, **self._options)
                self._by_loop = {**self._open_loops(), loop: client}
            return client

    async def aclose(self) -> None:
        """Close the running loop's client if it was made here; a later use makes a new one.

        Clients of other loops that are still running are left to those loops (each closes
        its own when it shuts the app down); those of loops already closed are dropped.
        """
        if self._own is not None:
            return
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._by_loop.get(loop)
            self._by_loop = {
                other: c for other, c in self._open_loops().items() if other is not loop
            }
        if client is not None:
            await client.aclose()

    def _open_loops(self) -> dict[asyncio.AbstractEventLoop, Redis]:
        # A closed loop's client cannot be closed any more (that needs its loop); forgetting
        # it lets the garbage collector release its sockets instead of keeping them forever.
        return {loop: client for loop, client in self._by_loop.items() if not loop.is_closed()}
