"""Rows written with the COMMIT: an insert that travels with the transaction's end.

A request that enqueues a task (prow.tasks) writes a row that nothing in the request reads
back. Sent when it is made, that INSERT costs a round trip to the database; held until the
transaction commits, it costs none:

* **PostgreSQL (asyncpg)**: the INSERT goes in the COMMIT's own message: one simple-protocol
  query ``INSERT ... ON CONFLICT DO NOTHING; COMMIT;`` with the values written as SQL literals
  (only while the server keeps ``standard_conforming_strings`` on, its default). A failing
  INSERT leaves the transaction failed, so the COMMIT does not happen and the error is the
  commit's. A request that wrote nothing else has no transaction to commit (``prow.db._lean``
  begins one only for a write): its rows go in one INSERT on their own, which is atomic by
  itself.
* **SQLite (aiosqlite)**: the INSERT runs just before the COMMIT, straight on the driver (one
  trip to its thread, where SQLAlchemy's execute makes three).
* **Other engines**: the INSERT runs just before the COMMIT, one statement per table.

Rolled back, the rows are dropped with the transaction. The rows are kept on the request's
``Connection`` (SQLAlchemy's, one per checkout), so nothing outlives it; the COMMIT and
ROLLBACK listeners are added to an engine the first time a row is held for it, so an app that
never uses this pays nothing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, event, insert
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.util import await_only

if TYPE_CHECKING:
    from sqlalchemy.sql.dml import Insert

__all__ = [
    "add_at_commit",
    "commit_connection_class",
    "holds_rows",
    "insert_at_commit",
    "insert_ignore",
    "insert_once",
]

_ROWS = "_prow_rows_at_commit"  # the Connection's held rows: [(table, values), ...]
_INSTALLED = "_prow_rows_at_commit_installed"
_HELD = "prow_before_commit"  # CommitConnection's attribute: SQL to send with the next COMMIT


@functools.cache
def commit_connection_class() -> type[Any]:
    """asyncpg's connection, able to send SQL in the same message as the next COMMIT.

    prow's engines on asyncpg use it (``connection_class``); asyncpg ends a transaction with
    ``execute("COMMIT;")`` (or ``"ROLLBACK;"``), which is where the held SQL joins in.
    """
    import asyncpg  # type: ignore[import-untyped]

    class CommitConnection(asyncpg.Connection):  # type: ignore[misc]
        __slots__ = (_HELD,)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.prow_before_commit: str | None = None

        async def execute(self, query: str, *args: Any, **options: Any) -> str:
            held = self.prow_before_commit
            if held is not None and not args:
                if query == "COMMIT;":
                    self.prow_before_commit = None
                    query = held + query
                elif query == "ROLLBACK;":
                    self.prow_before_commit = None
            return await super().execute(query, *args, **options)  # type: ignore[no-any-return]

    return CommitConnection


def insert_ignore(dialect: str, table: Table) -> Insert:
    """An INSERT that skips a row whose primary key exists (rowcount 0) instead of failing."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    return insert(table).prefix_with("IGNORE")  # MySQL / MariaDB


def add_at_commit(connection: SyncConnection, table: Table, values: dict[str, Any]) -> None:
    """Insert ``values`` into ``table`` when ``connection``'s transaction commits.

    A row whose primary key exists is skipped. The caller makes sure the connection is in a
    transaction (``Connection.begin()`` or autobegin) and not in a savepoint.
    """
    held: list[tuple[Table, dict[str, Any]]] | None = connection.__dict__.get(_ROWS)
    if held is None:
        engine = connection.engine
        if not engine.__dict__.get(_INSTALLED):
            event.listen(engine, "commit", _send)
            event.listen(engine, "rollback", _drop)
            engine.__dict__[_INSTALLED] = True
        held = connection.__dict__[_ROWS] = []
    held.append((table, values))


def holds_rows(connection: SyncConnection) -> bool:
    """Whether ``connection`` holds rows for its COMMIT (so the commit must not be skipped)."""
    return bool(connection.__dict__.get(_ROWS))


def _drop(connection: SyncConnection) -> None:
    connection.__dict__.pop(_ROWS, None)


def _send(connection: SyncConnection) -> None:
    held = connection.__dict__.pop(_ROWS, None)
    if not held:
        return
    driver: Any = connection.connection.driver_connection
    if hasattr(driver, _HELD) and _literals_safe(driver):
        sql = "".join(_insert_sql(table, rows) for table, rows in _by_table(held))
        if driver.is_in_transaction():
            setattr(driver, _HELD, sql)  # sent with the COMMIT that follows
        else:
            await_only(driver.execute(sql))  # nothing else was written: on its own
        return
    if connection.dialect.name == "sqlite" and hasattr(driver, "executemany"):
        # aiosqlite: one trip to its thread (SQLAlchemy's execute makes three: cursor,
        # execute, close), in the transaction the sqlite3 module opens for a write.
        for table, rows in _by_table(held):
            names = list(rows[0])
            statement = _sqlite_insert(table, tuple(names))
            await_only(driver.executemany(statement, [[row[n] for n in names] for row in rows]))
        return
    for table, rows in _by_table(held):
        connection.execute(insert_ignore(connection.dialect.name, table), rows)


@functools.cache
def _sqlite_insert(table: Table, names: tuple[str, ...]) -> str:
    into = f"INSERT INTO {_name(table.fullname)} ({', '.join(_name(n) for n in names)})"
    return f"{into} VALUES ({', '.join('?' for _ in names)}) ON CONFLICT DO NOTHING"


def _by_table(
    held: Sequence[tuple[Table, dict[str, Any]]],
) -> list[tuple[Table, list[dict[str, Any]]]]:
    tables: dict[Table, list[dict[str, Any]]] = {}
    for table, values in held:
        tables.setdefault(table, []).append(values)
    return list(tables.items())


def _literals_safe(driver: Any) -> bool:
    # With standard_conforming_strings off, a backslash in a literal would be an escape.
    return getattr(driver.get_settings(), "standard_conforming_strings", "off") == "on"


def _insert_sql(table: Table, rows: list[dict[str, Any]]) -> str:
    names = list(rows[0])
    columns = ", ".join(_name(name) for name in names)
    values = ", ".join(
        "(" + ", ".join(_literal(row.get(name)) for name in names) + ")" for row in rows
    )
    # Names from the table, values as literals (_literal): nothing is interpolated raw.
    into = f"INSERT INTO {_name(table.fullname)} ({columns})"
    return f"{into} VALUES {values} ON CONFLICT DO NOTHING;"


def _name(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if value is True or value is False:
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot store {value!r}")
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("a text value cannot hold a NUL character")
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for a {type(value).__name__}")


async def insert_at_commit(
    target: AsyncSession | AsyncConnection, table: Table, values: dict[str, Any]
) -> bool:
    """Hold a row for the COMMIT of ``target``'s transaction (beginning it if need be).

    False when the row cannot be held: inside a savepoint, whose rollback must take the row
    with it; the caller inserts it now instead.
    """
    if target.in_nested_transaction():
        return False
    if isinstance(target, AsyncSession):
        connection = await target.connection()
    else:
        if not target.in_transaction():
            await target.begin()
        connection = target
    sync = connection.sync_connection
    if sync is None:
        return False
    add_at_commit(sync, table, values)
    return True


async def insert_once(
    target: AsyncSession | AsyncConnection, table: Table, values: dict[str, Any], *, hold: bool
) -> bool:
    """Insert ``values`` in ``target``'s transaction unless its primary key exists.

    ``hold``: the caller needs no answer, so the row waits for the COMMIT (``insert_at_commit``)
    and True is returned; otherwise, or inside a savepoint, it is inserted now and the answer
    is whether it was new.
    """
    if hold and await insert_at_commit(target, table, values):
        return True
    bind = target.bind if isinstance(target, AsyncSession) else target
    dialect = "sqlite" if bind is None else str(bind.dialect.name)
    result: Any = await target.execute(insert_ignore(dialect, table), values)
    return bool(result.rowcount)
