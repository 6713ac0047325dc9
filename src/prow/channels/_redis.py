"""The Redis backend: pub/sub for fan-out, a stream per channel for history and replay.

Publishing runs one Lua script, atomically: ``XADD`` appends the message to the channel's
stream (capped at ``history`` entries, expiring ``retention`` seconds after the last
message) and ``PUBLISH`` sends it, with the id the stream gave it, on one pub/sub channel
that every process listens to. The id is the message's SSE id, so a reconnecting client's
``Last-Event-ID`` is an ``XRANGE`` start. Because the script is atomic, the order of the
stream is the order in which every listener receives the messages.

Each process holds one pub/sub connection per event loop (not one per subscriber) and
receives every channel's messages; it hands each to its own subscribers of that channel.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from prow._redis import LoopClients, outage_errors
from prow.channels._backend import ChannelError, Connection, Deliver

__all__ = ["RedisChannelBackend"]

_PUBLISH = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'd', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], id .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[1])
return id
"""

_STREAM_ID = re.compile(r"(\d{1,20})-(\d{1,20})")


class RedisChannelBackend:
    """Channels shared by every process that uses the same Redis and ``prefix``.

    ``RedisChannelBackend("redis://cache:6379/0", history=1000, retention=86400)`` keeps
    the last ``history`` messages of each channel (approximately: Redis trims whole
    blocks) for ``retention`` seconds after the channel's last message.
    """

    def __init__(
        self,
        url: str,
        *,
        history: int = 1000,
        retention: int = 86400,
        prefix: str = "prow:channels:",
        **options: Any,
    ) -> None:
        # health_check_interval: a listener on a frozen Redis notices within seconds.
        options.setdefault("health_check_interval", 5)
        self.clients = LoopClients(url, **options)
        self.history = history
        self.retention = retention
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"RedisChannelBackend({self.clients!r})"

    def connect(self) -> Connection:
        return _RedisConnection(self)

    def outage_errors(self) -> tuple[type[BaseException], ...]:
        return outage_errors()


class _RedisConnection:
    def __init__(self, backend: RedisChannelBackend) -> None:
        self.backend = backend
        self.pubsub_channel = backend.prefix + "*"  # pub/sub names are not keys: no clash
        self._script: Any = None

    def _key(self, channel: str) -> str:
        return self.backend.prefix + channel

    async def publish(self, channel: str, payload: str) -> str:
        client = self.backend.clients.get()
        if self._script is None:
            self._script = client.register_script(_PUBLISH)
        backend = self.backend
        message_id = await self._script(
            keys=[self._key(channel)],
            args=[payload, backend.history, backend.retention, self.pubsub_channel, channel],
            client=client,
        )
        return message_id.decode() if isinstance(message_id, bytes) else str(message_id)

    async def replay(self, channel: str, after: str) -> list[tuple[str, str]]:
        client = self.backend.clients.get()
        entries: Any = await client.xrange(self._key(channel), min=f"({after}", max="+")
        return [(_text(entry_id), _text(fields[b"d"])) for entry_id, fields in entries or ()]

    async def latest(self, channel: str) -> str:
        client = self.backend.clients.get()
        newest: Any = await client.xrevrange(self._key(channel), count=1)
        return _text(newest[0][0]) if newest else "0-0"

    async def listen(self, deliver: Deliver, ready: Callable[[], Awaitable[None]]) -> None:
        client = self.backend.clients.get()
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.pubsub_channel)
            await ready()
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None or message.get("type") != "message":
                    continue
                message_id, channel, payload = _text(message["data"]).split("\n", 2)
                deliver(channel, message_id, payload)
        finally:
            await pubsub.aclose()

    async def ping(self) -> None:
        await self.backend.clients.get().ping()

    def order(self, message_id: str) -> tuple[int, ...]:
        match = _STREAM_ID.fullmatch(message_id)
        if match is None:
            raise ChannelError(f"not a message id of the Redis channel backend: {message_id!r}")
        return (int(match[1]), int(match[2]))

    async def aclose(self) -> None:
        await self.backend.clients.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
