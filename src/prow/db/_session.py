"""``DBSession`` and ``Connection``: per-request database access, committed before the response.

::

    @app.post("/posts", status_code=201)
    async def create_post(data: PostIn, session: DBSession) -> PostOut:
        post = Post(**data.model_dump())
        session.add(post)
        await session.flush()          # the id is known from here on
        return PostOut.model_validate(post, from_attributes=True)

The commit runs after the handler returns and before the response leaves, so a
commit that fails (a unique violation found only at commit) becomes the error
answer: the client is never told "created" about a row that was not stored.

``Connection`` is the same contract for SQLAlchemy *core* (an ``AsyncConnection``: no identity
map, no ORM loading), the cheaper road for reads and hand-written statements::

    ONE_POST = select(posts).where(posts.c.id == bindparam("id"))

    @app.get("/posts/{post_id}")
    async def read_post(post_id: int, connection: Connection) -> dict[str, object]:
        row = (await connection.execute(ONE_POST, {"id": post_id})).mappings().first()
        ...

Both skip the commit when the driver reports that no transaction is open (SQLite's and
asyncpg's drivers know exactly: a read-only request leaves nothing to commit), and commit
otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from prow._exceptions import HTTPError
from prow._params import Depends
from prow._request import Request
from prow.db._at_commit import holds_rows
from prow.db._database import Database, database
from prow.db._lean import driver_in_transaction
from prow.extensions import requires_extension
from prow.types import Scope

__all__ = ["Connection", "DBSession", "get_connection", "get_or_404", "get_session"]

T = TypeVar("T")
logger = logging.getLogger("prow.db")
DB_SESSION = "prow.db.session"  # the scope key (see prow.scope)
#: Scope key: callables run once the request's session or connection has committed.
AFTER_COMMIT = "prow.db.after_commit"
#: The scope of the request (or task) whose ``DBSession`` or ``Connection`` is open in this
#: context: ``prow.tasks`` writes what a handler enqueues in that transaction.
DB_SCOPE: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "prow.db.scope", default=None
)


@requires_extension(Database)
async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The ``DBSession`` dependency: a session of the app's database for this request.

    Commits when the handler returns, rolls back when it raises; always closes.
    """
    async with database(request.app).session() as session:
        scope = request.scope
        scope[DB_SESSION] = session  # for prow.tasks: enqueue in this transaction
        token = DB_SCOPE.set(scope)
        try:
            yield session
        except Exception:
            await _rollback_quietly(session)
            raise
        finally:
            _reset(token)
        if _session_has_work(session):
            await session.commit()
            _after_commit(scope)


@requires_extension(Database)
async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The ``Connection`` dependency: a pooled core connection of the app's database.

    Commits when the handler returns (if anything may be uncommitted), rolls back when it
    raises; always goes back to the pool.
    """
    async with database(request.app).connect() as connection:
        scope = request.scope
        scope[DB_SESSION] = connection  # for prow.tasks: enqueue in this transaction
        token = DB_SCOPE.set(scope)
        try:
            yield connection
        except Exception:
            await _rollback_quietly(connection)
            raise
        finally:
            _reset(token)
        if _uncommitted(connection.sync_connection):
            await connection.commit()
            _after_commit(scope)


def _reset(token: contextvars.Token[Scope | None]) -> None:
    # Closed from another context (a cancelled request's generator): nothing to undo there.
    with contextlib.suppress(ValueError):
        DB_SCOPE.reset(token)


def _after_commit(scope: Scope) -> None:
    for callback in scope.pop(AFTER_COMMIT, ()):
        callback()


def _session_has_work(session: AsyncSession) -> bool:
    transaction = session.sync_session.get_transaction()
    if transaction is None:
        return False  # nothing ran: nothing to commit
    if not transaction.is_active:
        # A flush failed and the handler swallowed the error: the transaction is rolled
        # back, and commit() must raise so the client is not told its write succeeded.
        return True
    if session.new or session.deleted or session.dirty:
        return True  # the commit flushes them
    # SQLAlchemy keeps the transaction's connections in ``_connections`` (bind or
    # connection -> (connection, ...)); if that ever changes, commit as before.
    connections = getattr(transaction, "_connections", None)
    if not isinstance(connections, dict):
        return True
    return any(_uncommitted(entry[0]) for entry in connections.values())


def _uncommitted(connection: SyncConnection | None) -> bool:
    """Whether a commit may have anything to do on ``connection``.

    Only a driver that reports its transaction state exactly may say no: SQLite's (the
    ``sqlite3`` module under aiosqlite) opens a transaction only for a write, and on
    PostgreSQL (asyncpg) prow begins one only before the first statement that is not a
    plain read (``prow.db._lean``), so a request that only read has nothing to commit.
    Every other driver is committed.
    """
    if connection is None or not connection.in_transaction():
        return False
    if holds_rows(connection):
        return True  # rows held for the COMMIT (prow.db._at_commit)
    if connection.dialect.name in _EXACT_DIALECTS:
        return driver_in_transaction(connection.connection.driver_connection)
    return True


_EXACT_DIALECTS = frozenset(("sqlite", "postgresql"))


async def _rollback_quietly(target: AsyncSession | AsyncConnection) -> None:
    # The handler's error is the one to answer; a rollback failing too (the
    # connection is gone) adds nothing, and closing discards the work.
    try:
        await target.rollback()
    except Exception:
        logger.debug("rollback failed after a handler error", exc_info=True)


def _database_answers(method: str, path: str) -> dict[int, dict[str, Any]]:
    """For OpenAPI: what a route using the database can answer (see ``prow.db._errors``)."""
    answers: dict[int, dict[str, Any]] = {
        503: {
            "description": "Service Unavailable: the database cannot be reached; try again",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
        }
    }
    if "{" in path:  # get_or_404 and .one() name a row by the path: it may not exist
        answers[404] = {"description": "Not Found: no row has this key"}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        answers[409] = {"description": "Conflict: a unique or foreign-key constraint refused it"}
        answers[422] = {"description": "a NOT NULL or CHECK constraint refused the row"}
    return answers


get_session.__openapi_responses__ = _database_answers  # type: ignore[attr-defined]
get_connection.__openapi_responses__ = _database_answers  # type: ignore[attr-defined]
_ASYNC_ONLY = (
    "its queries must be awaited. Write 'async def' (and 'await db.execute(...)', "
    "'await db.get(...)'), as every prow handler that uses the database does."
)
get_session.__prow_async_only__ = _ASYNC_ONLY  # type: ignore[attr-defined]
get_connection.__prow_async_only__ = _ASYNC_ONLY  # type: ignore[attr-defined]

#: A handler parameter annotated ``DBSession`` receives the request's ``AsyncSession``.
DBSession = Annotated[AsyncSession, Depends(get_session, scope="function")]

#: A handler parameter annotated ``Connection`` receives the request's ``AsyncConnection``.
Connection = Annotated[AsyncConnection, Depends(get_connection, scope="function")]


async def get_or_404(session: AsyncSession, model: type[T], pk: Any) -> T:
    """The row of ``model`` with primary key ``pk``, or an ``HTTPError(404)`` naming it."""
    found = await session.get(model, pk)
    if found is None:
        raise HTTPError(404, f"{model.__name__} {pk!r} does not exist.")
    return found
