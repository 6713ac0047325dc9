"""Fixtures for prow.tasks: an app with ``Tasks`` on SQLite, PostgreSQL or MariaDB.

Server runs use the URLs of ``PROW_TEST_POSTGRES_URL`` / ``PROW_TEST_MYSQL_URL`` and skip
(or fail under ``PROW_REQUIRE_SERVICES=1``) when the server is down. Each app drops and
creates the task tables when it starts, so tests do not see each other's tasks; the tables are
dropped from the servers when the tests of this folder are done.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from _services import reachable, require

SERVER_URLS = {
    "postgresql": os.environ.get(
        "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    ),
    "mysql": os.environ.get("PROW_TEST_MYSQL_URL", "mysql+aiomysql://root@127.0.0.1:3306/test"),
}


def server_url(kind: str) -> str:
    url = SERVER_URLS[kind]
    parts = urlsplit(url)
    require(kind, parts.hostname or "127.0.0.1", parts.port or 0)
    return url


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    return server_url(request.param)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"


# What the tests here create on the shared servers (the task tables and the tests' own).
CREATED = ("prow_task", "prow_task_period", "prow_task_outbox", "tasks_test_note")
CREATED += ("tasks_test_run", "tasks_broker_note")


@pytest.fixture(scope="package", autouse=True)
def _drop_created_tables() -> Iterator[None]:
    yield
    for url in SERVER_URLS.values():
        parts = urlsplit(url)
        if reachable(parts.hostname or "127.0.0.1", parts.port or 0):
            asyncio.run(_drop(url))


async def _drop(url: str) -> None:
    from sqlalchemy import text

    from prow.db import Database

    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            for name in CREATED:
                await connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
    finally:
        await db.dispose()
