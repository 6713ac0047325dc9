"""Backends for the channels tests: in-process, and the real Redis and PostgreSQL servers."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from _services import redis_url, require
from prow import App, Request, WebSocket
from prow.channels import Channels
from prow.responses import EventSourceResponse

POSTGRES_URL = os.environ.get(
    "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

BACKENDS = ["memory", "redis", "postgres"]


def backend_url(kind: str) -> str:
    """The URL of a backend kind; skips (or fails in CI) when its server is down."""
    if kind == "memory":
        return "memory://"
    if kind == "redis":
        return redis_url()
    parts = urlsplit(POSTGRES_URL)
    require("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    return _own_database(POSTGRES_URL)


@functools.cache
def _own_database(url: str) -> str:
    """A database of these tests' own beside ``url``'s, so that the backend's history table
    (``prow_channel_messages``) is never made in a database other tests share."""
    import asyncpg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_channels"

    async def create() -> None:
        conn = await asyncpg.connect(url.replace("+asyncpg", ""), timeout=5)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_channel(prefix: str = "room") -> str:
    """A channel name no other test (or earlier run) has used."""
    return f"{prefix}:{uuid.uuid4().hex[:12]}"


def make_app(url: str) -> App:
    """A chat app: POST publishes, GET .../events streams SSE, .../ws relays to a websocket."""
    app = App(extensions=[Channels(url, timeout=1.0)])

    @app.post("/rooms/{room}", status_code=202)
    async def say(room: str, message: dict[str, Any], channels: Channels) -> dict[str, str]:
        sent = await channels.publish(f"room:{room}", message)
        return {"id": sent.id}

    @app.get("/rooms/{room}/events")
    async def events(room: str, request: Request, channels: Channels) -> EventSourceResponse:
        return await channels.sse(request, f"room:{room}", ping_interval=None)

    @app.websocket("/rooms/{room}/ws")
    async def relay(room: str, websocket: WebSocket, channels: Channels) -> None:
        await channels.relay(websocket, f"room:{room}")

    return app


class SSEReader:
    """Reads server-sent events from a streaming httpx response, one at a time, with a timeout."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self) -> dict[str, str]:
        event: dict[str, str] = {}
        for line in self.lines:
            if not line:
                if event:
                    return event
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            event[name] = event.get(name, "") + value.removeprefix(" ")
        raise AssertionError("the stream ended")


@contextlib.contextmanager
def open_sse(client: Any, url: str, last_event_id: str | None = None) -> Iterator[SSEReader]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        yield SSEReader(response)
