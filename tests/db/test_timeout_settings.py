"""The database timeouts read from settings (``PROW_DATABASE_*_TIMEOUT``) reach ``Database``."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prow import App, ConfigurationError
from prow.db import Database, Session, use_database
from prow.settings import database_kwargs, load_settings
from prow.testing import TestClient


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("PROW_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env of the project around
    yield


def test_defaults() -> None:
    assert database_kwargs(load_settings()) == {
        "connect_timeout": 5.0,
        "pool_timeout": 5.0,
        "statement_timeout": 30.0,
        "pool_size": 20,
        "max_overflow": 0,
    }


def test_read_from_the_environment_and_none_switches_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_DATABASE_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("PROW_DATABASE_POOL_TIMEOUT", "1")
    monkeypatch.setenv("PROW_DATABASE_STATEMENT_TIMEOUT", "off")
    assert database_kwargs(load_settings()) == {
        "connect_timeout": 2.5,
        "pool_timeout": 1.0,
        "statement_timeout": None,
        "pool_size": 20,
        "max_overflow": 0,
    }


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_a_bad_timeout_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("PROW_DATABASE_STATEMENT_TIMEOUT", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert caught.value.code == "prow.E601"
    assert "PROW_DATABASE_STATEMENT_TIMEOUT" in str(caught.value)


def test_the_settings_bound_the_wait_for_a_lock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROW_DATABASE_STATEMENT_TIMEOUT", "0.2")
    app = App()
    db = use_database(
        app, f"sqlite:///{tmp_path / 'db.sqlite3'}", **database_kwargs(load_settings())
    )

    @app.post("/write", status_code=201)
    async def write(session: Session) -> int:
        connection = await session.connection()
        await connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        await connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        return 1

    with TestClient(app) as client:
        assert client.post("/write").status_code == 201
        holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            started = time.monotonic()
            locked = client.post("/write")
            assert locked.status_code == 503
            assert time.monotonic() - started < 3
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert db.url.startswith("sqlite+aiosqlite")


def test_the_pool_is_sized_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("PROW_DATABASE_MAX_OVERFLOW", "0")
    kwargs = database_kwargs(load_settings())
    assert (kwargs["pool_size"], kwargs["max_overflow"]) == (3, 0)
    pool: Any = Database("postgresql://u@127.0.0.1/app", **kwargs).engine.pool
    assert (pool.size(), pool._max_overflow) == (3, 0)


def test_a_pool_size_below_one_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_DATABASE_POOL_SIZE", "0")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "PROW_DATABASE_POOL_SIZE" in str(caught.value)
