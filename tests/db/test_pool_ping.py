"""The pool pings a database server before lending a connection, never a SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prow.db import Database


def test_sqlite_pool_does_not_ping(tmp_path: Path) -> None:
    # A SQLite connection cannot go stale (there is no server to restart), so a ping
    # would only add a round trip to every request.
    pool: Any = Database(f"sqlite:///{tmp_path / 'app.sqlite3'}").engine.pool
    assert pool._pre_ping is False


def test_server_pools_ping_before_lending() -> None:
    pool: Any = Database("postgresql://u@127.0.0.1/app").engine.pool
    assert pool._pre_ping is True
