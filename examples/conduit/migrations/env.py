"""Alembic environment of this project, written by prow; edit it like any Alembic env.py.

`prow makemigrations` and `prow migrate` run it with the database URL and the models'
metadata in `config.attributes`. Run directly by `alembic`, it falls back to prow's own
resolution of the URL (PROW_DATABASE_URL, else ./prow.sqlite3) and to `prow.db.Model.metadata`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config


def _metadata() -> Any:
    metadata = config.attributes.get("prow.metadata")
    if metadata is None:
        from prow.db import Model

        metadata = Model.metadata
    return metadata


def _url() -> Any:
    url = config.attributes.get("prow.url")
    if url is None:
        from prow.db import Database

        url = Database().url
    return url


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_metadata(),
        compare_type=True,
        # SQLite cannot ALTER most things in place: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("prow migrations run against a database; offline (--sql) mode is not set up")
asyncio.run(_run_online())
