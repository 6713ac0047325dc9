"""The Conduit example (examples/conduit) on a database of its own, for the tests that run it.

``conduit_database("sqlite" | "postgresql", tmp_path_factory)`` yields the URL of a new
database with the example's own migrations applied (so they are tested too): a file for
SQLite, a whole database of its own on the PostgreSQL server at ``PROW_TEST_POSTGRES_URL``
(so other tests' tables never clash with Conduit's), dropped afterwards. PostgreSQL is
skipped when the server is down, unless ``PROW_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from _services import require
from prow import App
from prow.db import Database, migrate
from prow.settings import load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conduit"
if str(EXAMPLE) not in sys.path:  # the example is a project of its own: `import conduit`
    sys.path.insert(0, str(EXAMPLE))

POSTGRES_URL = os.environ.get(
    "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SECRET_KEY = "conduit-tests-" + "k" * 40
BACKENDS = ["sqlite", "postgresql"]


async def _server_sql(statement: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def conduit_database(backend: str, tmp_path_factory: Any) -> Iterator[str]:
    """A new, migrated database for the example on ``backend``; its URL."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('conduit') / 'conduit.sqlite3'}"
        migrate(url=url, directory=EXAMPLE / "migrations")
        yield url
        return
    server = make_url(POSTGRES_URL)
    require("PostgreSQL", server.host or "127.0.0.1", server.port or 5432)
    name = f"conduit_test_{secrets.token_hex(4)}"
    asyncio.run(_server_sql(f"CREATE DATABASE {name}"))
    try:
        url = server.set(database=name).render_as_string(hide_password=False)
        migrate(url=url, directory=EXAMPLE / "migrations")
        yield url
    finally:
        asyncio.run(_server_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def empty(database_url: str) -> None:
    """Delete every row of the example's database."""
    from conduit.models import User

    db = Database(database_url)
    try:
        async with db.session() as session:
            await session.execute(delete(User))  # articles, comments, follows... cascade
            await session.commit()
    finally:
        await db.dispose()


def conduit_app(database_url: str) -> App:
    """The example's app on ``database_url``, with test settings."""
    from conduit.app import create_app

    settings = load_settings(database_url=database_url, secret_key=SECRET_KEY, debug=False)
    return create_app(settings)
