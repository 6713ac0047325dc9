"""Shared fixtures for prow.db tests: one test, three databases.

``database_url`` runs a test on SQLite (a fresh file), PostgreSQL and MariaDB/MySQL.
The server-backed runs are skipped when the server is not reachable, unless
``PROW_REQUIRE_SERVICES=1`` (CI), where an unreachable server fails the test.
Override the servers with ``PROW_TEST_POSTGRES_URL`` / ``PROW_TEST_MYSQL_URL``.

``make_tables(url, *models)`` creates tables for one test and drops them afterwards,
so tests may run in any order without seeing each other's rows.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from prow.db import Database

SERVER_URLS = {
    "postgresql": os.environ.get(
        "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("PROW_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test"),
}


@cache
def _reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 0), timeout=1):
            return True
    except OSError:
        return False


def server_url(kind: str) -> str:
    """The URL of the ``kind`` test server; skips (or fails, in CI) when it is down."""
    url = SERVER_URLS[kind]
    if not _reachable(url):
        reason = f"{kind} is not reachable at {make_url(url).render_as_string()}"
        if os.environ.get("PROW_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} and PROW_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    return url


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for this test: a new SQLite file, or a real server."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
    return server_url(request.param)


@pytest.fixture(params=["postgresql", "mysql"])
def server_database_url(request: pytest.FixtureRequest) -> str:
    """A database server URL (PostgreSQL, then MariaDB/MySQL): for server-only behaviour."""
    return server_url(request.param)


@pytest.fixture
def backend(database_url: str) -> str:
    """``"sqlite"``, ``"postgresql"`` or ``"mysql"``: which database this run uses."""
    return make_url(database_url).get_backend_name()


def run(coro: Any) -> Any:
    """Run a coroutine in its own event loop (for set-up outside the app)."""
    return asyncio.run(coro)


async def _create(url: str, models: tuple[Any, ...]) -> None:
    db = Database(url)
    try:
        await db.drop_all(*models)  # leftovers of an interrupted run
        await db.create_all(*models)
    finally:
        await db.dispose()


async def _drop(url: str, models: tuple[Any, ...]) -> None:
    db = Database(url)
    try:
        await db.drop_all(*models)
    finally:
        await db.dispose()


@pytest.fixture
def make_tables() -> Iterator[Callable[..., None]]:
    """``make_tables(url, *models)``: create the tables now, drop them after the test."""
    made: list[tuple[str, tuple[Any, ...]]] = []

    def make(url: str, *models: Any) -> None:
        run(_create(url, models))
        made.append((url, models))

    yield make
    for url, models in reversed(made):
        run(_drop(url, models))
