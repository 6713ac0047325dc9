"""``Tasks``: the extension that gives an app a task backend, and where ``enqueue()`` goes.

``enqueue()`` is called on a task defined at module level, so it finds its app through the
request or task being run: ``prow.db``'s ``DBSession`` and ``Connection`` note the request's
scope in a context variable while they are open (and the session in the scope), and the
worker does the same for each task it runs. No middleware: a request that does not enqueue
pays nothing for ``Tasks``. Then:

- with the embedded backend, the task row is written in that session: it exists only if the
  request commits;
- with a broker backend, an outbox row is written in that session instead; once the request
  has committed, a relay sends what the outbox holds (and retries later if the broker is down);
- with no session (a request that does not use the database, a script), the task is sent now,
  through the ``Tasks`` of the app started last in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prow._exceptions import ConfigurationError
from prow.db import Database
from prow.db._session import AFTER_COMMIT, DB_SCOPE, DB_SESSION
from prow.extensions import Extension
from prow.tasks._backend import (
    BACKEND_SCHEMES,
    Backend,
    TaskMessage,
    dump_message,
    load_message,
    utcnow,
)
from prow.tasks._handle import TaskHandle
from prow.tasks._models import OutboxRow, new_task_id, task_id_for_key
from prow.tasks._task import REGISTRY, Task

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from prow._app import App
    from prow.types import Scope

__all__ = ["CURRENT_SCOPE", "DB_SESSION", "Tasks", "enqueue"]

logger = logging.getLogger("prow.tasks")

#: The scope of the request (or task) whose database session is open in this context, if any
#: (``DBSession`` and ``Connection`` set it; so does the worker for the task it runs).
CURRENT_SCOPE = DB_SCOPE
_RELAY_EVERY = 5.0  # seconds between two looks at the outbox for rows left behind
_started: list[Tasks] = []  # the started Tasks, newest last: for enqueue() outside requests


class Tasks(Extension):
    """Durable background tasks for an app: ``App(extensions=[Tasks()])``.

    ``backend``: a :class:`~prow.tasks.Backend`, or a URL. None (the default) stores tasks in
    the app's own database; ``"redis://..."``, ``"amqp://..."``, ``"nats://..."`` name a broker
    backend (installed with its extra); a database URL stores them in that database.
    """

    requires = (Database,)

    def __init__(self, backend: Backend | str | None = None) -> None:
        self._spec = backend
        self._backend: Backend | None = backend if isinstance(backend, Backend) else None
        self._app: App | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._relay_wakeup: asyncio.Event | None = None
        # One relay at a time in this process: two (the loop's and run_pending's) would both
        # read the same rows where the database cannot skip locked ones (SQLite) and send twice.
        self._relay_lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        return f"Tasks({type(self.backend).__name__})"

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = _make_backend(self._spec)
        return self._backend

    @property
    def app(self) -> App:
        if self._app is None:
            raise RuntimeError("Tasks is not set up on an app yet")
        return self._app

    # -- the extension ---------------------------------------------------------------------------

    def setup(self, app: App) -> None:
        self._app = app
        if self._spec is None:  # the settings' tasks_url, else $PROW_TASKS_URL, else the database
            self._spec = configured_url(app)
            self._backend = None
        self.backend  # noqa: B018 - a wrong backend URL stops the set-up (prow.E233)

    async def startup(self, app: App) -> None:
        await self.backend.startup(app)
        _started.append(self)
        if not self.backend.in_database:
            self._relay_wakeup = asyncio.Event()
            self._relay_lock = asyncio.Lock()
            self._relay_task = asyncio.ensure_future(self._relay_loop())

    async def shutdown(self, app: App) -> None:
        if self in _started:
            _started.remove(self)
        if self._relay_task is not None:
            self._relay_task.cancel()
            await asyncio.gather(self._relay_task, return_exceptions=True)
            self._relay_task = None
        await self.backend.shutdown()
        await self.release(app)

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): the task backend answers (a broker's PING, a SELECT 1)."""
        await self.backend.ready()

    def tables(self) -> list[Table]:
        """The tables tasks use, for ``create_all(*tasks.tables())`` in tests and examples."""
        from prow.tasks._models import OutboxRow, PeriodRow, TaskRow

        return [TaskRow.__table__, PeriodRow.__table__, OutboxRow.__table__]  # type: ignore[list-item]

    def queues(self) -> list[str]:
        """Every queue a defined task uses ("default" first)."""
        names = {"default"} | {t.options.queue for t in REGISTRY.values()}
        return sorted(names, key=lambda name: (name != "default", name))

    # -- running tasks here ------------------------------------------------------------------

    async def run_pending(self, queues: Sequence[str] | None = None) -> int:
        """Run every task that is due now, here, one after another; how many ran.

        For tests: enqueue (or make a request that enqueues), then ``run_pending()``, then
        assert. A retried task whose next attempt is later is not waited for.
        """
        from prow.tasks._worker import run_delivery

        await self.relay()
        count = 0
        chosen = list(queues or self.queues())
        while True:
            deliveries = await self.backend.claim(chosen, limit=1, lease=3600.0)
            if not deliveries:
                return count
            await run_delivery(self, deliveries[0])
            count += 1

    # -- enqueue -----------------------------------------------------------------------------

    async def enqueue(
        self,
        task: Task[Any, Any],
        arguments: str,
        *,
        key: str | None = None,
        eta: datetime.datetime | datetime.timedelta | None = None,
        scope: Scope | None = None,
    ) -> TaskHandle[Any]:
        """Queue ``task`` with ``arguments`` (validated JSON); see ``Task.enqueue``."""
        options = task.options
        if isinstance(eta, datetime.timedelta):
            eta = utcnow() + eta
        message = TaskMessage(
            id=new_task_id() if key is None else task_id_for_key(key),
            task=task.name,
            queue=options.queue,
            args=arguments,
            retries=options.retries,
            eta=eta,
            key=key,
            timeout=options.timeout,
            keep_result=options.keep_result,
        )
        session = None if scope is None else scope.get(DB_SESSION)
        if session is not None and self._shares_database(session):
            if self.backend.in_database:
                added = await self.backend.add(session, message)
            else:
                added = await _outbox_add(session, message)
                after: list[Any] = scope.setdefault(AFTER_COMMIT, [])  # type: ignore[union-attr]
                if self.relay_soon not in after:
                    after.append(self.relay_soon)
        else:
            [added] = await self.backend.send([message])
        return TaskHandle(self, task, message.id, added)

    def _shares_database(self, session: AsyncSession | AsyncConnection) -> bool:
        backend: Any = self.backend
        if not backend.in_database:
            return True  # the outbox is in the app's database, as the session is
        own = getattr(backend, "database", None)
        return own is None or own is self.app.extension(Database)

    # -- the outbox relay (broker backends) ------------------------------------------------------

    def relay_soon(self) -> None:
        if self._relay_wakeup is not None:
            self._relay_wakeup.set()

    async def _relay_loop(self) -> None:
        assert self._relay_wakeup is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._relay_wakeup.wait(), _RELAY_EVERY)
            self._relay_wakeup.clear()
            try:
                await self.relay()
            except Exception:  # the broker is down: the rows wait for the next round
                logger.warning("tasks: cannot relay the outbox now", exc_info=True)

    async def relay(self, limit: int = 500) -> int:
        """Send what the outbox holds to the broker backend; how many were sent."""
        if self.backend.in_database:
            return 0
        if self._relay_lock is not None:
            async with self._relay_lock:
                return await self._relay(limit)
        return await self._relay(limit)

    async def _relay(self, limit: int) -> int:
        from sqlalchemy import select, update

        table: Any = OutboxRow.__table__
        sent = 0
        engine = self.app.extension(Database).engine
        while True:
            async with engine.begin() as connection:
                query = select(table).where(table.c.sent_at.is_(None)).limit(limit)
                if connection.dialect.name != "sqlite":
                    query = query.with_for_update(skip_locked=True)
                rows = (await connection.execute(query)).all()
                if not rows:
                    return sent
                await self.backend.send([load_message(row.message) for row in rows])
                ids = [row.id for row in rows]
                await connection.execute(
                    update(table).where(table.c.id.in_(ids)).values(sent_at=time.time())
                )
            sent += len(rows)


async def enqueue(
    task: Task[Any, Any],
    arguments: str,
    *,
    key: str | None = None,
    eta: datetime.datetime | datetime.timedelta | None = None,
) -> TaskHandle[Any]:
    """``Task.enqueue``: to the ``Tasks`` of the request or task being run, or the last started."""
    scope = CURRENT_SCOPE.get()
    tasks: Tasks | None = None
    if scope is not None:
        app: App = scope["app"]
        if app.has_extension(Tasks):
            tasks = app.extension(Tasks)
    if tasks is None and _started:
        tasks = _started[-1]
    if tasks is None:
        raise ConfigurationError(
            "prow.E232",
            f"cannot enqueue {task.name}: no app with Tasks is running; install it "
            "(App(extensions=[Tasks()])) and enqueue from a request, a task, or while the app runs",
        )
    return await tasks.enqueue(task, arguments, key=key, eta=eta, scope=scope)


async def _outbox_add(session: AsyncSession | AsyncConnection, message: TaskMessage) -> bool:
    from prow.db._at_commit import insert_once

    values = {"id": message.id, "message": dump_message(message), "created_at": time.time()}
    return await insert_once(session, OutboxRow.__table__, values, hold=message.key is None)  # type: ignore[arg-type]


def configured_url(app: App) -> str | None:
    """The backend URL the project configured: its settings' ``tasks_url``, or $PROW_TASKS_URL."""
    settings: Any = app.state.settings if "settings" in app.state else None
    return getattr(settings, "tasks_url", None) or os.environ.get("PROW_TASKS_URL") or None


def _make_backend(spec: Backend | str | None) -> Backend:
    from prow.tasks._embedded import DatabaseBackend

    if isinstance(spec, Backend):
        return spec
    if spec is None or spec in ("database", "db"):
        return DatabaseBackend()
    scheme = spec.partition(":")[0].partition("+")[0].lower()
    if scheme in ("sqlite", "postgresql", "postgres", "mysql", "mariadb"):
        return DatabaseBackend(Database(spec))
    target = BACKEND_SCHEMES.get(scheme)
    if target is None:
        known = ", ".join(sorted({"sqlite", "postgresql", "mysql", *BACKEND_SCHEMES}))
        raise ConfigurationError(
            "prow.E233", f"no task backend for {spec!r}: use a URL of {known}, or a Backend"
        )
    module_name, _, attr = target.partition(":")
    try:
        backend_class = getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        raise ConfigurationError(
            "prow.E233", f"the task backend for {scheme}:// cannot be imported: {exc}"
        ) from exc
    made: Backend = backend_class(spec)
    return made
