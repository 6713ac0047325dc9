"""Fixtures for prow.tasks: an app with ``Tasks`` on SQLite, PostgreSQL or MariaDB.

Server runs use the URLs of ``PROW_TEST_POSTGRES_URL`` / ``PROW_TEST_MYSQL_URL`` and skip
(or fail under ``PROW_REQUIRE_SERVICES=1``) when the server is down. Each app drops and
creates the task tables when it starts, so tests do not see each other's tasks.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from _services import require

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
