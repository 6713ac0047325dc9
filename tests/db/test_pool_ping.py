"""No per-checkout ping where a dead connection is found for free; MySQL keeps its ping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prow.db import Database


def test_sqlite_pool_does_not_ping(tmp_path: Path) -> None:
    # A SQLite connection cannot go stale (there is no server to restart), so a ping
    # would only add a round trip to every request.
    pool: Any = Database(f"sqlite:///{tmp_path / 'app.sqlite3'}").engine.pool
    assert pool._pre_ping is False


def test_postgres_pool_does_not_ping() -> None:
    # A connection the server closed is replaced when it is checked out (asyncpg has seen
    # its socket close): see tests/db/test_round_trips.py, which restarts a server.
    pool: Any = Database("postgresql://u@127.0.0.1/app").engine.pool
    assert pool._pre_ping is False


def test_mysql_pool_pings_before_lending() -> None:
    pool: Any = Database("mysql://u@127.0.0.1/app").engine.pool
    assert pool._pre_ping is True


def test_pool_sizes_default_to_twenty_and_no_overflow() -> None:
    pool: Any = Database("postgresql://u@127.0.0.1/app").engine.pool
    assert (pool.size(), pool._max_overflow) == (20, 0)
    sized: Any = Database("postgresql://u@127.0.0.1/app", pool_size=3, max_overflow=1).engine.pool
    assert (sized.size(), sized._max_overflow) == (3, 1)
