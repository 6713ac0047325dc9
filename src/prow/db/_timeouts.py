"""Timeouts: nothing waits forever on a database that is down, frozen or overloaded.

Three limits, each answered 503 with ``Retry-After`` when it runs out (see
``prow.db._errors``): opening a connection, waiting for a pooled one, and one statement.
:func:`timeout_options` turns them into each driver's own options; a driver that has no
such option gets the limit another way (the MariaDB/MySQL session variables set by
:func:`bound_statements`, a bounded handshake for aiomysql).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from prow._exceptions import ConfigurationError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_POOL_TIMEOUT",
    "DEFAULT_STATEMENT_TIMEOUT",
    "bound_statements",
    "checked_timeouts",
    "timeout_options",
]

#: Seconds to open a connection to a database server before answering 503.
DEFAULT_CONNECT_TIMEOUT = 5.0
#: Seconds to wait for a free pooled connection before answering 503.
DEFAULT_POOL_TIMEOUT = 5.0
#: Seconds one statement may run (or, on SQLite, wait for a lock) before answering 503.
DEFAULT_STATEMENT_TIMEOUT = 30.0


def checked_timeouts(**timeouts: float | None) -> dict[str, float | None]:
    """``timeouts`` unchanged, or ``prow.E506`` naming the first that is not seconds or None."""
    for name, seconds in timeouts.items():
        number = isinstance(seconds, int | float) and not isinstance(seconds, bool)
        if seconds is not None and not (number and seconds > 0):
            raise ConfigurationError(
                "prow.E506",
                f"Database({name}={seconds!r}): a timeout is a positive number of seconds, "
                "or None for no limit",
            )
    return timeouts


def timeout_options(
    url: URL,
    *,
    connect_timeout: float | None,
    pool_timeout: float | None,
    statement_timeout: float | None,
    connect_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``create_async_engine`` options that bound every wait on the database at ``url``.

    * PostgreSQL (asyncpg): ``timeout`` (connecting) and ``command_timeout`` (each
      statement, COMMIT and the pool's ping included) in ``connect_args``. On a timeout
      asyncpg asks the server to cancel the statement, and prow closes the connection.
    * MariaDB/MySQL (aiomysql): ``connect_timeout``, for the handshake too; the statement
      limit is the session's ``max_statement_time`` (MariaDB) or ``max_execution_time``
      (MySQL, reads only), set by :func:`bound_statements` when each connection opens.
    * SQLite (aiosqlite): the statement limit is the busy timeout, how long a statement
      waits for another connection's write lock.
    * every pool that queues: ``pool_timeout``.

    ``connect_args`` given by the caller win over these.
    """
    backend = url.get_backend_name()
    driver_args: dict[str, Any] = {}
    if backend == "postgresql":
        driver_args = {"timeout": connect_timeout, "command_timeout": statement_timeout}
    elif backend in ("mysql", "mariadb") and connect_timeout is not None:
        driver_args = {
            "connect_timeout": connect_timeout,
            "async_creator_fn": _bounded_mysql_connect(connect_timeout),
        }
    elif backend == "sqlite" and statement_timeout is not None:
        driver_args = {"timeout": statement_timeout}
    options: dict[str, Any] = {}
    if _queues_connections(url):
        # QueuePool takes None as "wait forever"; the pools of an in-memory SQLite
        # database (one shared connection) take no timeout at all.
        options["pool_timeout"] = pool_timeout
    merged = {**driver_args, **(connect_args or {})}
    if merged:
        options["connect_args"] = merged
    return options


def _queues_connections(url: URL) -> bool:
    if url.get_backend_name() != "sqlite":
        return True
    in_memory = url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"
    return not in_memory


def _bounded_mysql_connect(seconds: float) -> Any:
    # aiomysql's connect_timeout bounds only the TCP connect: a server that accepts and
    # then says nothing (frozen, overloaded) would hold the handshake forever. SQLAlchemy's
    # aiomysql dialect makes the connection with ``async_creator_fn`` when given one.
    async def connect(*args: Any, **kwargs: Any) -> Any:
        import aiomysql  # type: ignore[import-untyped]

        return await asyncio.wait_for(aiomysql.connect(*args, **kwargs), seconds)

    return connect


def bound_statements(engine: AsyncEngine, seconds: float | None) -> None:
    """Set the server-side statement limit on each new MariaDB/MySQL connection of ``engine``.

    The other drivers take theirs as a connect argument (:func:`timeout_options`).
    """
    if seconds is not None and engine.dialect.name in ("mysql", "mariadb"):
        event.listen(engine.sync_engine, "connect", _mysql_statement_timeout(seconds))


def _mysql_statement_timeout(seconds: float) -> Any:
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        # Asked of each connection: a mysql:// URL may well point at a MariaDB server.
        mariadb = "mariadb" in str(record.driver_connection.get_server_info()).lower()
        cursor = dbapi_connection.cursor()
        if mariadb:
            cursor.execute(f"SET SESSION max_statement_time = {float(seconds)}")
        else:
            cursor.execute(f"SET SESSION max_execution_time = {int(seconds * 1000)}")
        cursor.close()

    return on_connect
