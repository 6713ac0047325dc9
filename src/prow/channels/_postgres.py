"""The PostgreSQL backend: ``LISTEN``/``NOTIFY`` for fan-out, a table for history and replay.

Publishing is one statement: it inserts the message into ``prow_channel_messages``, sends
``pg_notify`` with its id (and its data, when it fits in a notification's 8000 bytes), and
trims the channel's history to the last ``history`` rows. Notifications go out when the
statement commits, in commit order, to every connection listening: each process keeps one
listening connection per event loop and hands messages to its own subscribers.

For apps that already run PostgreSQL and would rather not add Redis. Its cost: a row
written per message and a notification every listening process receives.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from prow.channels._backend import Connection, Deliver, integer_order

__all__ = ["PostgresChannelBackend"]

_NOTIFY_CHANNEL = "prow_channels"
#: Bytes of a notification payload PostgreSQL accepts (8000), less room for id and channel.
_MAX_INLINE = 7000
#: Seconds between two checks that the listening connection still answers.
_KEEPALIVE = 2.0

_CREATE = """
CREATE TABLE IF NOT EXISTS {table} (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,
    data text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {table}_channel_id ON {table} (channel, id);
"""

# $1 channel, $2 data, $3 whether to inline the data, $4 history kept per channel.
_PUBLISH = """
WITH m AS (INSERT INTO {table} (channel, data) VALUES ($1, $2) RETURNING id),
n AS (
    SELECT pg_notify('{notify}', (SELECT id FROM m)::text || chr(10) || $1
        || CASE WHEN $3 THEN chr(10) || $2 ELSE '' END)
),
d AS (
    DELETE FROM {table} WHERE channel = $1 AND id <= (
        SELECT id FROM {table} WHERE channel = $1 ORDER BY id DESC OFFSET $4 - 1 LIMIT 1
    )
)
SELECT m.id FROM m, n
"""

_REPLAY = "SELECT id, data FROM {table} WHERE channel = $1 AND id > $2 ORDER BY id"
_FETCH = "SELECT data FROM {table} WHERE id = $1"
_LATEST = "SELECT max(id) FROM {table} WHERE channel = $1"


def _asyncpg() -> Any:
    try:
        import asyncpg  # type: ignore[import-untyped]
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(
            "the PostgreSQL channel backend needs asyncpg; install it with: "
            "pip install 'prow[postgres]'",
            name=exc.name,
        ) from exc
    return asyncpg


class PostgresChannelBackend:
    """Channels shared by every process using the same PostgreSQL database.

    ``PostgresChannelBackend("postgresql://app@db/app", history=1000)``: the table is made
    on first use (``CREATE TABLE IF NOT EXISTS``). SQLAlchemy-style URLs
    (``postgresql+asyncpg://``) are accepted.
    """

    def __init__(
        self,
        url: str,
        *,
        history: int = 1000,
        table: str = "prow_channel_messages",
        connect_timeout: float = 5.0,
    ) -> None:
        _asyncpg()
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,50}", table):
            raise ValueError(f"the table name must be a plain lower-case identifier: {table!r}")
        self.url = re.sub(r"^postgres(ql)?\+\w+://", "postgresql://", url)
        self.history = history
        self.table = table
        self.connect_timeout = connect_timeout
        self._created = False

    def __repr__(self) -> str:
        return f"PostgresChannelBackend(history={self.history}, table={self.table!r})"

    def connect(self) -> Connection:
        return _PostgresConnection(self)

    def outage_errors(self) -> tuple[type[BaseException], ...]:
        asyncpg = _asyncpg()
        return (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
        )


class _PostgresConnection:
    def __init__(self, backend: PostgresChannelBackend) -> None:
        self.backend = backend
        self._pool: Any = None
        self._sql = {
            name: template.format(table=backend.table, notify=_NOTIFY_CHANNEL)
            for name, template in (
                ("publish", _PUBLISH),
                ("replay", _REPLAY),
                ("fetch", _FETCH),
                ("latest", _LATEST),
            )
        }

    async def _connect(self) -> Any:
        return await _asyncpg().connect(self.backend.url, timeout=self.backend.connect_timeout)

    async def _acquire_pool(self) -> Any:
        if self._pool is None:
            self._pool = await _asyncpg().create_pool(
                self.backend.url,
                min_size=0,
                max_size=4,
                timeout=self.backend.connect_timeout,
            )
        if not self.backend._created:
            async with self._pool.acquire() as conn, conn.transaction():
                # N workers starting at once would race CREATE ... IF NOT EXISTS (a
                # duplicate-key error on the catalog): one at a time.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _NOTIFY_CHANNEL)
                await conn.execute(_CREATE.format(table=self.backend.table))
            self.backend._created = True
        return self._pool

    async def publish(self, channel: str, payload: str) -> str:
        pool = await self._acquire_pool()
        inline = len(payload.encode()) + len(channel) <= _MAX_INLINE
        message_id = await pool.fetchval(
            self._sql["publish"], channel, payload, inline, self.backend.history
        )
        return str(message_id)

    async def replay(self, channel: str, after: str) -> list[tuple[str, str]]:
        pool = await self._acquire_pool()
        rows = await pool.fetch(self._sql["replay"], channel, int(after))
        return [(str(row["id"]), row["data"]) for row in rows]

    async def latest(self, channel: str) -> str:
        pool = await self._acquire_pool()
        newest = await pool.fetchval(self._sql["latest"], channel)
        return str(newest or 0)

    async def listen(self, deliver: Deliver, ready: Callable[[], Awaitable[None]]) -> None:
        await self._acquire_pool()  # the table exists before the first replay
        conn = await self._connect()
        notes: asyncio.Queue[str | None] = asyncio.Queue()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            notes.put_nowait(payload)

        try:
            conn.add_termination_listener(lambda _conn: notes.put_nowait(None))
            await conn.add_listener(_NOTIFY_CHANNEL, on_notify)
            await ready()
            while True:
                try:
                    payload = await asyncio.wait_for(notes.get(), _KEEPALIVE)
                except TimeoutError:
                    # A stopped server closes the socket; a frozen one only stops answering.
                    await conn.fetchval("SELECT 1", timeout=_KEEPALIVE)
                    continue
                if payload is None:
                    raise ConnectionError("the PostgreSQL listening connection was closed")
                # One at a time, in commit order, even when one must be read from the table.
                await self._deliver(deliver, payload)
        finally:
            conn.terminate()

    async def _deliver(self, deliver: Deliver, payload: str) -> None:
        message_id, _, rest = payload.partition("\n")
        channel, inline, data = rest.partition("\n")
        if not inline:  # too long to travel in the notification: read it from the table
            pool = await self._acquire_pool()
            data = await pool.fetchval(self._sql["fetch"], int(message_id))
            if data is None:
                return  # trimmed from history meanwhile
        deliver(channel, message_id, data)

    async def ping(self) -> None:
        pool = await self._acquire_pool()
        await pool.fetchval("SELECT 1")

    def order(self, message_id: str) -> tuple[int, ...]:
        return integer_order(message_id)

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
