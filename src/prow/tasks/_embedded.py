"""``DatabaseBackend``: tasks stored in the project's own database (the default backend).

Claiming is one statement where the engine allows it, so two workers never take the same
task: on SQLite an ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` (SQLite runs one
writer at a time); on PostgreSQL the same with ``FOR UPDATE SKIP LOCKED`` in the sub-select (a
worker skips rows another is claiming instead of waiting for them); on MariaDB/MySQL, which
cannot ``UPDATE ... RETURNING``, a ``SELECT ... FOR UPDATE SKIP LOCKED`` then an ``UPDATE`` in one
transaction. A claimed row holds a lease (``lease_until``) and a claim token: a worker killed
mid-task leaves a lease that runs out, and the next claim takes the task again; an ack from a
claim whose lease was taken over matches no row and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from prow.db._at_commit import insert_ignore, insert_once
from prow.tasks._backend import Backend, Delivery, TaskInfo, TaskMessage, TaskState
from prow.tasks._models import PeriodRow, TaskRow

if TYPE_CHECKING:
    from prow._app import App
    from prow.db import Database

__all__ = ["DatabaseBackend", "insert_ignore"]

TASKS: Table = TaskRow.__table__  # type: ignore[assignment]
PERIODS: Table = PeriodRow.__table__  # type: ignore[assignment]
_MAX_POLL = 0.5  # seconds between two looks at an empty queue, at most


def _epoch(moment: datetime | None) -> float:
    return time.time() if moment is None else moment.timestamp()


def _moment(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def _row_values(message: TaskMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "task": message.task,
        "queue": message.queue,
        "args": message.args,
        "state": TaskState.QUEUED.value,
        "attempts": message.attempts,
        "retries": message.retries,
        "eta": _epoch(message.eta),
        "key": message.key,
        "timeout": message.timeout,
        "keep_result": message.keep_result,
        "created_at": message.created_at.timestamp(),
    }


def _message(row: Any) -> TaskMessage:
    return TaskMessage(
        id=row.id,
        task=row.task,
        queue=row.queue,
        args=row.args,
        attempts=row.attempts,
        retries=row.retries,
        eta=_moment(row.eta),
        key=row.key,
        timeout=row.timeout,
        keep_result=bool(row.keep_result),
        created_at=_moment(row.created_at) or datetime.now(UTC),
    )


def _info(row: Any) -> TaskInfo:
    return TaskInfo(
        message=_message(row),
        state=TaskState(row.state),
        result=row.result,
        error=row.error,
        finished_at=_moment(row.finished_at),
    )


class DatabaseBackend(Backend):
    """Tasks in the ``prow_task`` table of the app's database (or of ``database``)."""

    in_database = True

    def __init__(self, database: Database | None = None) -> None:
        self._database = database
        self._owns_database = database is not None

    @property
    def database(self) -> Database:
        if self._database is None:
            raise RuntimeError("the task backend is not started (start the app or a worker)")
        return self._database

    async def startup(self, app: App) -> None:
        if self._database is None:
            from prow.db import database

            self._database = database(app)
        if self.database.backend == "sqlite":
            await self._use_wal()

    async def ready(self) -> None:
        if self._owns_database:  # the app's own Database answers /readyz for itself
            async with self.database.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")

    async def _use_wal(self) -> None:
        # Workers and the web server write the same file: in WAL mode readers do not block the
        # writer and a commit costs one sync instead of several (the mode stays with the file).
        async with self.database.engine.connect() as connection:
            mode = await connection.exec_driver_sql("PRAGMA journal_mode")
            if str(mode.scalar()).lower() not in ("wal", "memory"):
                await connection.exec_driver_sql("PRAGMA journal_mode=WAL")

    # -- enqueue ----------------------------------------------------------------------------

    async def add(self, session: AsyncSession | AsyncConnection, message: TaskMessage) -> bool:
        # Held for the request's COMMIT (prow.db._at_commit): on PostgreSQL the INSERT travels
        # in the COMMIT's message, no round trip of its own. A keyed task must know now whether
        # its key was new, so it is inserted at once.
        return await insert_once(session, TASKS, _row_values(message), hold=message.key is None)

    async def send(self, messages: Sequence[TaskMessage]) -> list[bool]:
        added: list[bool] = []
        async with self.database.engine.begin() as connection:
            plain = [_row_values(m) for m in messages if m.key is None]
            if plain:
                await connection.execute(insert(TASKS), plain)
            for message in messages:
                if message.key is None:
                    added.append(True)
                else:
                    added.append(await self.add(connection, message))
        return added

    # -- claim --------------------------------------------------------------------------------

    async def claim(
        self, queues: Sequence[str], *, limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        deadline = time.monotonic() + wait
        pause = 0.02
        while True:
            found = await self._claim_once(queues, limit, lease)
            if found or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, _MAX_POLL)

    async def _claim_once(self, queues: Sequence[str], limit: int, lease: float) -> list[Delivery]:
        now = time.time()
        token = uuid.uuid4().hex
        due = and_(
            TASKS.c.queue.in_(list(queues)),
            or_(
                and_(TASKS.c.state == "queued", TASKS.c.eta <= now),
                and_(TASKS.c.state == "running", TASKS.c.lease_until < now),
            ),
        )
        values = {"state": "running", "claim": token, "lease_until": now + lease}
        async with self.database.engine.begin() as connection:
            dialect = connection.dialect
            pick = select(TASKS.c.id).where(due).order_by(TASKS.c.eta).limit(limit)
            if dialect.name != "sqlite":
                pick = pick.with_for_update(skip_locked=True)
            if dialect.update_returning and dialect.name in ("sqlite", "postgresql"):
                statement = (
                    update(TASKS)
                    .where(TASKS.c.id.in_(pick.scalar_subquery()))
                    .values(values)
                    .returning(*TASKS.c)
                )
                rows = (await connection.execute(statement)).all()
            else:
                ids = list((await connection.execute(pick)).scalars())
                if not ids:
                    return []
                await connection.execute(update(TASKS).where(TASKS.c.id.in_(ids)).values(values))
                rows = (await connection.execute(select(TASKS).where(TASKS.c.id.in_(ids)))).all()
        return [_Delivery(self, _message(row), token) for row in rows]

    async def claim_period(self, name: str, slot: datetime) -> bool:
        async with self.database.engine.begin() as connection:
            statement = insert_ignore(connection.dialect.name, PERIODS)
            result: Any = await connection.execute(
                statement, {"name": name, "slot": slot.timestamp()}
            )
        return bool(result.rowcount)

    # -- inspection ---------------------------------------------------------------------------

    async def get(self, task_id: str) -> TaskInfo | None:
        async with self.database.engine.connect() as connection:
            row = (await connection.execute(select(TASKS).where(TASKS.c.id == task_id))).first()
        return None if row is None else _info(row)

    async def list(
        self, state: TaskState | None = None, queue: str | None = None, limit: int = 100
    ) -> list[TaskInfo]:
        query = select(TASKS).order_by(TASKS.c.created_at).limit(limit)
        if state is not None:
            query = query.where(TASKS.c.state == state.value)
        if queue is not None:
            query = query.where(TASKS.c.queue == queue)
        async with self.database.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_info(row) for row in rows]

    async def retry_failed(self, ids: Sequence[str] | None = None) -> int:
        statement = (
            update(TASKS)
            .where(TASKS.c.state == "failed")
            .values(state="queued", attempts=0, eta=time.time(), finished_at=None)
        )
        if ids is not None:
            statement = statement.where(TASKS.c.id.in_(list(ids)))
        return await self._write(statement)

    async def purge(self, state: TaskState | None = None, queue: str | None = None) -> int:
        statement = delete(TASKS).where(TASKS.c.state != "running")
        if state is not None:
            statement = statement.where(TASKS.c.state == state.value)
        if queue is not None:
            statement = statement.where(TASKS.c.queue == queue)
        return await self._write(statement)

    async def _write(self, statement: Any) -> int:
        async with self.database.engine.begin() as connection:
            result: Any = await connection.execute(statement)
        return int(result.rowcount)


class _Delivery(Delivery):
    __slots__ = ("_backend", "_token", "message")

    def __init__(self, backend: DatabaseBackend, message: TaskMessage, token: str) -> None:
        self._backend = backend
        self.message = message
        self._token = token

    def _mine(self) -> Any:
        return and_(TASKS.c.id == self.message.id, TASKS.c.claim == self._token)

    async def _finish(self, **values: Any) -> None:
        statement = update(TASKS).where(self._mine()).values(claim=None, lease_until=None, **values)
        await self._backend._write(statement)

    async def ack(self, result: str | None = None) -> None:
        message = self.message
        if message.keep_result or message.key is not None:
            # Kept: for its result, or so that its key keeps a second enqueue a no-op.
            await self._finish(state="succeeded", result=result, finished_at=time.time())
        else:
            await self._backend._write(delete(TASKS).where(self._mine()))

    async def retry(self, eta: datetime, error: str) -> None:
        await self._finish(
            state="queued", attempts=self.message.attempts + 1, eta=eta.timestamp(), error=error
        )

    async def dead_letter(self, error: str) -> None:
        await self._finish(
            state="failed",
            attempts=self.message.attempts + 1,
            error=error,
            finished_at=time.time(),
        )

    async def release(self) -> None:
        await self._finish(state="queued")

    async def extend(self, lease: float) -> None:
        statement = update(TASKS).where(self._mine()).values(lease_until=time.time() + lease)
        await self._backend._write(statement)
