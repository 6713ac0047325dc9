"""The database behind ``GET /db`` and ``GET /db/list``: which one, its URLs, its rows.

Every app reads the same table (``bench_row``, 100 rows, and TechEmpower's ``world`` and
``fortune``: ``bench/apps/_te.py``) from the same database, chosen by the
``BENCH_DB`` environment variable when the app is imported: ``sqlite`` (the default, a file under
``bench/.work/``) or ``postgresql`` (``BENCH_PG_URL``, default
``postgresql://postgres@127.0.0.1:5432/test``). ``prepare`` stores the rows once before measuring.
"""

from __future__ import annotations

import asyncio
import os
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.apps import _te as te
from bench.apps._rows import PAGE, ROW_TABLE, Row

__all__ = [
    "BACKENDS",
    "ENV",
    "ROWS",
    "async_url",
    "backend",
    "expected_page",
    "expected_row",
    "prepare",
    "reachable",
    "sync_url",
]

ENV = "BENCH_DB"
BACKENDS = ("sqlite", "postgresql")
ROWS = 100
SQLITE_FILE = Path(__file__).resolve().parent / ".work" / "bench.sqlite3"
_PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
_DRIVERS = {
    ("sqlite", True): "sqlite+aiosqlite",
    ("sqlite", False): "sqlite",
    ("postgresql", True): "postgresql+asyncpg",
    ("postgresql", False): "postgresql+psycopg",
}


def backend() -> str:
    """The database the apps use in this process: ``$BENCH_DB``, else ``sqlite``."""
    chosen = os.environ.get(ENV, "sqlite")
    if chosen not in BACKENDS:
        raise ValueError(f"{ENV}={chosen!r}: want one of {', '.join(BACKENDS)}")
    return chosen


def _url(is_async: bool, which: str | None = None) -> URL:
    which = which or backend()
    if which == "sqlite":
        url = make_url(f"sqlite:///{SQLITE_FILE}")
    else:
        url = make_url(os.environ.get("BENCH_PG_URL", _PG_DEFAULT))
    return url.set(drivername=_DRIVERS[which, is_async])


def async_url(which: str | None = None) -> URL:
    """The asyncio-driver URL (aiosqlite, asyncpg) of the chosen database."""
    return _url(True, which)


def sync_url(which: str | None = None) -> URL:
    """The blocking-driver URL (sqlite3, psycopg) of the chosen database, for Flask and Django."""
    return _url(False, which)


def expected_row(n: int) -> dict[str, Any]:
    """Row ``n`` as every app must answer it."""
    return {"id": n, "name": f"row {n}", "price": n * 1.5, "stock": n % 7, "active": n % 2 == 0}


def expected_page() -> dict[str, Any]:
    """The first page of ``GET /db/list``: rows 1-20 by id and the total count."""
    items = [expected_row(n) for n in range(1, PAGE + 1)]
    return {"items": items, "total": ROWS, "limit": PAGE, "offset": 0}


async def _store(url: URL) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Row.metadata.create_all, tables=[ROW_TABLE])
            present = await connection.scalar(select(func.count()).select_from(Row))
            if present != ROWS:
                await connection.execute(ROW_TABLE.delete())
                rows = [expected_row(n) for n in range(1, ROWS + 1)]
                await connection.execute(insert(Row), rows)
            await connection.run_sync(te.metadata.create_all)
            worlds = await connection.scalar(select(func.count()).select_from(te.WORLD_TABLE))
            if worlds != te.WORLD_ROWS:
                await connection.execute(te.WORLD_TABLE.delete())
                await connection.execute(te.FORTUNE_TABLE.delete())
                await connection.execute(insert(te.WORLD_TABLE), te.world_rows())
                await connection.execute(insert(te.FORTUNE_TABLE), te.fortune_rows())
    finally:
        await engine.dispose()


@cache
def prepare(which: str) -> None:
    """Create ``bench_row`` with its 100 rows in ``which`` unless they are already there."""
    if which == "sqlite":
        SQLITE_FILE.parent.mkdir(exist_ok=True)
    asyncio.run(_store(async_url(which)))


def reachable(which: str) -> bool:
    """Whether the database answers (SQLite always does)."""
    if which == "sqlite":
        return True

    async def ping() -> None:
        engine = create_async_engine(async_url(which), connect_args={"timeout": 3})
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    try:
        asyncio.run(ping())
    except (OSError, Exception):  # refused, unknown host, auth: all mean "not here"
        return False
    return True
