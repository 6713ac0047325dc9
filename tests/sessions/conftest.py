"""Fixtures for session tests: one app shape, run over every kind of store.

``store_kind`` runs a test with cookie sessions, ``MemoryStore``, ``RedisStore`` (the real
test server) and ``DatabaseStore`` (SQLite, PostgreSQL, MariaDB). Server-backed runs skip
when the server is down, unless ``PROW_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from _services import require
from prow.sessions import MemoryStore, SessionStore
from sessions._helpers import SERVER_URLS, database_store, redis_store

SERVER_KINDS = ["memory", "redis", "database-sqlite", "database-postgresql", "database-mysql"]


def _store(kind: str, tmp_path: Path) -> Iterator[SessionStore | None]:
    if kind == "cookie":
        yield None
    elif kind == "memory":
        yield MemoryStore()
    elif kind == "redis":
        yield from redis_store()
    elif kind == "database-sqlite":
        yield from database_store(f"sqlite+aiosqlite:///{tmp_path / 'sessions.sqlite3'}")
    else:
        url = SERVER_URLS[kind.removeprefix("database-")]
        parsed = make_url(url)
        require(parsed.get_backend_name(), parsed.host or "127.0.0.1", parsed.port or 0)
        yield from database_store(url)


@pytest.fixture(params=["cookie", *SERVER_KINDS])
def store_kind(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore | None]:
    """A fresh store of each kind (None: cookie sessions)."""
    yield from _store(request.param, tmp_path)


@pytest.fixture(params=SERVER_KINDS)
def server_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    """A fresh server-side store of each kind."""
    for store in _store(request.param, tmp_path):
        assert store is not None
        yield store
