"""PostgreSQL (asyncpg) without round trips that do no work.

SQLAlchemy's defaults cost a read-only request on asyncpg six round trips where one does the
work: the pool's liveness ping (``BEGIN; ;ROLLBACK``), then ``BEGIN``, the ``SELECT`` and a
``COMMIT`` (or the pool's ``ROLLBACK``). :func:`install` brings that down to the ``SELECT``:

* **No ping.** A connection the server closed (a restart, an idle timeout) is found when it is
  checked out, for free: asyncpg has seen the socket close, and the pool is told to open a
  new connection instead (``DisconnectionError`` in the ``checkout`` event: nothing was sent
  on the dead one, so trying again is always safe). One the server is closing right now
  (its farewell arrived, the socket is not closed yet) fails its first statement; that
  statement is run once more on a new connection when that is safe: nothing reached the
  server on this checkout (asyncpg's query counter has not moved), or only a ``BEGIN``, or
  only this statement, a plain read outside any transaction.
* **Transactions begin lazily.** A checked-out connection starts in autocommit; the first
  statement that is not a plain ``SELECT`` from tables (a write, ``FOR UPDATE``, DDL, a
  savepoint, ``text()``, a ``SELECT`` of a function without a table) sends ``BEGIN`` first,
  and everything after it runs in that transaction, committed or rolled back as before. At
  PostgreSQL's default isolation level (READ COMMITTED) every statement takes a fresh snapshot
  anyway, so a read run before the transaction began sees what it would have seen inside it.
  A connection or engine at another isolation level (REPEATABLE READ, SERIALIZABLE) is left
  alone, as is ``Database(lazy_begin=False)``.
* **Nothing to end.** A request that only read leaves no transaction open: no ``COMMIT``, and
  the pool's reset on return sends nothing.

asyncpg's prepared statements are kept per connection by SQLAlchemy's adapter (an LRU of 100
by SQL text), so a pool that keeps its connections prepares each statement once per connection.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Select

__all__ = ["driver_in_transaction", "install"]

_AUTOCOMMIT = "autocommit"
# Levels at which a read outside the transaction sees what it would see inside it.
_LAZY_LEVELS = (None, "READ COMMITTED", "read committed", "READ_COMMITTED")
_VERDICT = "_prow_plain_read"
_SENT = "prow.sent"
logger = logging.getLogger("prow.db")


def install(engine: AsyncEngine, *, lazy_begin: bool) -> None:
    """Make ``engine`` (PostgreSQL on asyncpg; others are left alone) skip idle round trips."""
    sync = engine.sync_engine
    if sync.dialect.name != "postgresql" or sync.dialect.driver != "asyncpg":
        return
    event.listen(sync, "checkout", _checkout_lazy if lazy_begin else _checkout)
    # The dialect's own hooks, not the engine's before_cursor_execute: an engine-level listener
    # costs every statement ~33k instructions of event dispatch (bench/, /queries).
    if lazy_begin:
        event.listen(sync, "do_execute", _lazy_execute_or_reconnect)
        event.listen(sync, "do_executemany", _begin_unless_plain_read)
        event.listen(sync, "do_execute_no_params", _begin_unless_plain_read)
    else:
        event.listen(sync, "do_execute", _execute_or_reconnect)


def _checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    driver = dbapi_connection.driver_connection
    if driver.is_closed():
        # The server closed it while it sat in the pool; the pool opens another.
        raise DisconnectionError("the database server closed this pooled connection")
    record.info[_SENT] = _sent(driver)
    if getattr(driver, "prow_before_commit", None) is not None:
        driver.prow_before_commit = None  # held for a COMMIT that never came (prow.db._at_commit)


def _sent(driver: Any) -> int:
    """How many statements asyncpg has put on the wire on this connection (-1: unknown)."""
    protocol = getattr(driver, "_protocol", None)
    return int(getattr(protocol, "queries_count", -1))


def _execute_or_reconnect(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    """The dialect's ``do_execute``, run once more on a new connection when the first
    statement of a checkout failed before anything was sent."""
    try:
        cursor.execute(statement, parameters)
    except Exception as error:
        fresh = _reconnect(context, error)
        if fresh is None:
            raise
        fresh.execute(statement, parameters)
        context.cursor = fresh
    return True


def _reconnect(context: Any, error: Exception) -> Any:
    """A cursor of a new connection in place of the checkout's, or None when unsafe."""
    if not _is_connection_error(error) or getattr(context, "_is_server_side", True):
        return None
    fairy = context.root_connection.connection
    record = getattr(fairy, "_connection_record", None)
    old = fairy.dbapi_connection
    if record is None or old is None:
        return None
    sent = record.info.get(_SENT, -1)
    now = _sent(old.driver_connection)
    # Safe when nothing reached the server on this checkout, or one thing only (asyncpg
    # counts BEGIN and each execution, not the preparing): the BEGIN the adapter sends before
    # a first statement outside autocommit, or this statement, a read outside any transaction
    # (running it twice changes nothing). Anything else must never run twice.
    one = old.isolation_level != _AUTOCOMMIT or _plain_read(context)
    if sent < 0 or not (now == sent or (now == sent + 1 and one)):
        return None
    level = old.isolation_level
    record.invalidate(error)  # closes the broken connection; the record opens a new one
    new = fairy.dbapi_connection = record.get_connection()
    new.isolation_level = level
    record.info[_SENT] = _sent(new.driver_connection)
    logger.info("the database server had closed a pooled connection; reconnected (%s)", error)
    return new.cursor()


def _is_connection_error(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if cause.__class__.__module__.startswith("asyncpg"):
            name = type(cause).__name__
            return name in _BROKEN or "connection is closed" in str(cause)
        cause = cause.__cause__ or cause.__context__
    return False


# asyncpg's errors for a connection the server is closing or has closed.
_BROKEN = frozenset(
    ("InternalClientError", "ConnectionDoesNotExistError", "ConnectionFailureError")
)


def _checkout_lazy(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    _checkout(dbapi_connection, record, proxy)
    # SQLAlchemy's asyncpg adapter keeps the chosen level there; if that ever changes, the
    # connection simply begins before its first statement, as without lazy_begin.
    if getattr(dbapi_connection, "_isolation_setting", _AUTOCOMMIT) in _LAZY_LEVELS:
        dbapi_connection.isolation_level = _AUTOCOMMIT


def _lazy_execute_or_reconnect(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
    _begin_unless_plain_read(cursor, statement, parameters, context)
    return _execute_or_reconnect(cursor, statement, parameters, context)


def _begin_unless_plain_read(cursor: Any, _statement: str, *args: Any) -> None:
    """Before a statement: begin the transaction (the adapter's BEGIN) unless it is a plain read."""
    context = args[-1]  # do_execute(many): (parameters, context); do_execute_no_params: (context)
    dbapi_connection = context.root_connection.connection.dbapi_connection
    if dbapi_connection.isolation_level != _AUTOCOMMIT:
        return  # in a transaction already, or at a level that is not lazy
    chosen = getattr(dbapi_connection, "_isolation_setting", _AUTOCOMMIT)
    if chosen == _AUTOCOMMIT:
        return  # the project asked for autocommit itself
    if not _plain_read(context):
        # The adapter sends BEGIN before this statement; the rest of the checkout is in it.
        dbapi_connection.isolation_level = chosen


def _plain_read(context: Any) -> bool:
    compiled = getattr(context, "compiled", None)
    if compiled is None:
        return False  # driver SQL: it may write
    verdict = getattr(compiled, _VERDICT, None)
    if verdict is None:
        statement = compiled.statement
        verdict = (
            isinstance(statement, Select)
            and statement._for_update_arg is None
            and not getattr(compiled, "ctes", None)
            and bool(statement.get_final_froms())
        )
        setattr(compiled, _VERDICT, verdict)  # compiled statements are cached: judged once
    return bool(verdict)


def driver_in_transaction(driver_connection: Any) -> bool:
    """Whether the driver's connection has a transaction open (``True`` when it cannot say).

    asyncpg and SQLite's ``sqlite3`` (under aiosqlite) know exactly; other drivers answer True.
    """
    if driver_connection is None:
        return False
    asks = getattr(driver_connection, "is_in_transaction", None)  # asyncpg
    if asks is not None:
        return bool(asks())
    return bool(getattr(driver_connection, "in_transaction", True))  # sqlite3 (aiosqlite)
