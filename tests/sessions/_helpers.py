"""Helpers for session tests: the test app, a shifted clock, fresh stores of each kind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from _services import redis_url
from prow import App, Request
from prow.db import Database
from prow.middleware import Middleware
from prow.sessions import (
    DatabaseStore,
    RedisStore,
    SessionMiddleware,
    SessionRecord,
    SessionStore,
)

KEY = "test-secret-key-" + "8fQz2LmW9pK4vR7t" * 2
OTHER_KEY = "another-secret-key-" + "y" * 32

SERVER_URLS = {
    "postgresql": os.environ.get(
        "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("PROW_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test"),
}


def make_app(store: SessionStore | None = None, *, secret_key: str = KEY, **options: Any) -> App:
    """An app whose routes set, read, rotate and clear the session (CSRF off: not tested here)."""
    middleware = Middleware(SessionMiddleware, store=store, **options)
    app = App(secret_key=secret_key, middleware=[middleware], csrf=False)

    @app.post("/set")
    async def set_values(request: Request, values: dict[str, Any]) -> dict[str, Any]:
        request.session.update(values)
        return dict(request.session)

    @app.get("/get")
    async def get_values(request: Request) -> dict[str, Any]:
        return dict(request.session)

    @app.get("/plain")
    async def plain() -> str:
        return "no session here"

    @app.post("/rotate")
    async def rotate(request: Request) -> dict[str, Any]:
        request.session.rotate()
        return dict(request.session)

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, Any]:
        request.session.invalidate()
        return dict(request.session)

    @app.post("/clear")
    async def clear(request: Request) -> dict[str, Any]:
        request.session.clear()
        return dict(request.session)

    return app


def cookie(value: str, name: str = "session") -> dict[str, str]:
    """Headers sending one session cookie by hand (as a browser, or an attacker, would)."""
    return {"cookie": f"{name}={value}"}


@contextlib.contextmanager
def shifted_clock(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Iterator[None]:
    """Make ``time.time()`` read ``seconds`` later (earlier when negative) inside the block."""
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)
    try:
        yield
    finally:
        monkeypatch.setattr(time, "time", real)


async def _tables(url: str, *, create: bool) -> None:
    db = Database(url)
    try:
        await db.drop_all(SessionRecord)  # leftovers of an interrupted run
        if create:
            await db.create_all(SessionRecord)
    finally:
        await db.dispose()


def database_store(url: str) -> Iterator[SessionStore]:
    """A ``DatabaseStore`` on a fresh ``prow_session`` table at ``url``, dropped afterwards."""
    asyncio.run(_tables(url, create=True))
    try:
        yield DatabaseStore(Database(url))
    finally:
        asyncio.run(_tables(url, create=False))


def redis_store() -> Iterator[SessionStore]:
    """A ``RedisStore`` on the test server under a fresh prefix, whose keys go afterwards."""
    import redis

    url = redis_url()
    prefix = f"prow-test:{uuid.uuid4().hex}:"
    yield RedisStore(url, prefix=prefix)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)
    client.close()
