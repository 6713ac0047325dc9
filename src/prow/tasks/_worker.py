"""Running tasks: one delivery (``run_delivery``), and ``Worker``, the loop ``prow worker`` runs.

An attempt ends in one of four ways: the task returned (ack, with its result when kept); it
raised or exceeded its timeout (retried after a jittered exponential backoff, or dead-lettered
with its traceback after its last retry); the worker is stopping and cancelled it (released:
it runs again, same attempt); or the worker died (its lease runs out and another takes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import inspect
import logging
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio

from prow._params._solve import Context, build_kwargs, close_exits
from prow._request import Request
from prow.tasks._backend import Delivery, TaskMessage, utcnow
from prow.tasks._extension import CURRENT_SCOPE
from prow.tasks._schedule import current_slot, next_slot
from prow.tasks._task import REGISTRY, Task

if TYPE_CHECKING:
    from prow._app import App
    from prow.tasks._extension import Tasks

__all__ = ["Worker", "run_delivery"]

logger = logging.getLogger("prow.tasks")
#: How late a worker that has just started may still start a period that began before it.
_CATCH_UP = datetime.timedelta(seconds=60)


async def run_delivery(tasks: Tasks, delivery: Delivery, lease: float | None = None) -> None:
    """Run one claimed task and settle it (ack / retry / dead-letter / release)."""
    message = delivery.message
    task = REGISTRY.get(message.task)
    if task is None:
        await delivery.dead_letter(
            f"LookupError: no task named {message.task!r} in this worker; "
            "is its module imported by the app the worker runs?"
        )
        return
    heartbeat = None
    if lease is not None:
        heartbeat = asyncio.ensure_future(_heartbeat(delivery, lease))
    try:
        result = await _attempt(tasks, task, message)
    except asyncio.CancelledError:
        await _settle_quietly(delivery.release())
        raise
    except Exception as exc:
        await _failed(task, delivery, _traceback(exc, message))
    else:
        await delivery.ack(result)
    finally:
        if heartbeat is not None:
            heartbeat.cancel()


async def _attempt(tasks: Tasks, task: Task[Any, Any], message: TaskMessage) -> str | None:
    timeout = message.timeout
    if timeout is None:
        return await execute(tasks.app, task, message)
    try:
        return await asyncio.wait_for(execute(tasks.app, task, message), timeout)
    except TimeoutError:
        raise TimeoutError(f"task {task.name} exceeded its timeout of {timeout:g} s") from None


async def execute(app: App, task: Task[Any, Any], message: TaskMessage) -> str | None:
    """Call the task with its arguments and its injected values; its result's JSON if kept."""
    arguments = task.load_arguments(message.args)
    _, plan, _, _ = task.plan()
    scope = _task_scope(app, message)
    token = CURRENT_SCOPE.set(scope)  # a task it enqueues joins its DBSession's transaction
    ctx = Context(Request(scope))
    try:
        try:
            injected = await build_kwargs(plan, ctx)
            value = await _call(task, {**arguments, **injected})
        except BaseException as exc:
            raised = await close_exits([*ctx.exits, *ctx.early_exits], exc)
            if raised is not None and raised is not exc:
                raise raised from exc
            raise
        error = await close_exits([*ctx.exits, *ctx.early_exits], None)
        if error is not None:
            raise error
    finally:
        CURRENT_SCOPE.reset(token)
    return task.dump_result(value) if message.keep_result else None


async def _call(task: Task[Any, Any], kwargs: dict[str, Any]) -> Any:
    function = task.function
    if inspect.iscoroutinefunction(function):
        return await function(**kwargs)
    value = await anyio.to_thread.run_sync(lambda: function(**kwargs))
    if inspect.isawaitable(value):
        value = await value
    return value


def _task_scope(app: App, message: TaskMessage) -> dict[str, Any]:
    """The scope a task's dependencies see: the app, and the task as the "path"."""
    path = f"/.tasks/{message.task}"
    return {
        "type": "http",
        "app": app,
        "method": "TASK",
        "scheme": "task",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": None,
        "server": None,
        "http_version": "1.1",
        "state": {},
        "prow.task": message,
    }


async def _failed(task: Task[Any, Any], delivery: Delivery, error: str) -> None:
    message = delivery.message
    attempts = message.attempts + 1
    if attempts <= message.retries:
        eta = utcnow() + datetime.timedelta(seconds=task.options.delay(attempts))
        logger.warning("task %s failed (attempt %d), retrying at %s", task.name, attempts, eta)
        await delivery.retry(eta, error)
    else:
        logger.error("task %s failed its last attempt (%d): %s", task.name, attempts, error)
        await delivery.dead_letter(error)


def _traceback(exc: BaseException, message: TaskMessage) -> str:
    text = "".join(traceback.format_exception(exc))
    return f"attempt {message.attempts + 1} of task {message.task} ({message.id}):\n{text}"


async def _heartbeat(delivery: Delivery, lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        with contextlib.suppress(Exception):
            await delivery.extend(lease)


async def _settle_quietly(step: Any) -> None:
    # Giving a task back may fail (the database is gone too): its lease then runs out.
    with contextlib.suppress(Exception):
        await asyncio.shield(step)


class Worker:
    """Claims tasks from ``queues`` and runs up to ``concurrency`` at a time, until stopped.

    ``lease``: seconds a claim lasts without a heartbeat (a killed worker's tasks run again
    that long after it died); ``grace``: seconds running tasks get to finish on ``stop()``
    before they are cancelled and given back.
    """

    def __init__(
        self,
        tasks: Tasks,
        queues: Sequence[str] | None = None,
        *,
        concurrency: int = 4,
        lease: float = 30.0,
        grace: float = 30.0,
        poll: float = 1.0,
        schedule: bool = True,
    ) -> None:
        self.tasks = tasks
        self.queues = list(queues or tasks.queues())
        self.concurrency = max(1, concurrency)
        self.lease = lease
        self.grace = grace
        self.poll = poll
        self.schedule = schedule
        self.processed = 0
        self._stopping = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._born = utcnow()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Stop claiming; running tasks get ``grace`` seconds to finish."""
        self._stopping.set()

    def abort(self) -> None:
        """Stop now: cancel running tasks, which go back to the queue."""
        self._stopping.set()
        for running in list(self._running):
            running.cancel()

    async def run(self) -> None:
        """Work until ``stop()``; then finish (or give back) what is running."""
        self._born = utcnow()
        scheduler = asyncio.ensure_future(self._schedule()) if self.schedule else None
        try:
            await self._claim_loop()
        finally:
            if scheduler is not None:
                scheduler.cancel()
            await self._drain()

    async def _claim_loop(self) -> None:
        backend = self.tasks.backend
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            # Claim in batches: wait until half the slots are free (one claim, several tasks).
            if free <= 0 or (self._running and free < (self.concurrency + 1) // 2):
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                deliveries = await backend.claim(
                    self.queues, limit=free, lease=self.lease, wait=self.poll
                )
            except Exception:
                logger.warning("tasks: cannot claim now; trying again", exc_info=True)
                await self._pause(self.poll)
                continue
            if self._stopping.is_set():  # stopped while claiming: give them back
                await asyncio.gather(*(d.release() for d in deliveries), return_exceptions=True)
                return
            for delivery in deliveries:
                running = asyncio.ensure_future(run_delivery(self.tasks, delivery, self.lease))
                self._running.add(running)
                running.add_done_callback(self._done)

    def _done(self, running: asyncio.Task[None]) -> None:
        self._running.discard(running)
        self.processed += 1
        if not running.cancelled() and running.exception() is not None:
            logger.error("tasks: settling a task failed", exc_info=running.exception())

    async def _drain(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(self._running, timeout=self.grace)
        for running in pending:
            running.cancel()  # run_delivery gives the task back
        if pending:
            await asyncio.wait(pending)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    # -- periodic tasks ----------------------------------------------------------------------

    async def _schedule(self) -> None:
        periodic = [
            t
            for t in REGISTRY.values()
            if (t.options.schedule or t.options.every) and t.options.queue in self.queues
        ]
        if not periodic:
            return
        started: dict[str, datetime.datetime] = {}
        while True:
            now = utcnow()
            for task in periodic:
                try:
                    await self._start_period(task, now, started)
                except Exception:
                    logger.warning("tasks: cannot schedule %s now", task.name, exc_info=True)
            following = min(next_slot(now, t.options.schedule, t.options.every) for t in periodic)
            await asyncio.sleep(max(0.05, min(1.0, (following - utcnow()).total_seconds())))

    async def _start_period(
        self, task: Task[Any, Any], now: datetime.datetime, started: dict[str, datetime.datetime]
    ) -> None:
        slot = current_slot(now, task.options.schedule, task.options.every)
        if started.get(task.name) == slot:
            return
        if slot < self._born - _CATCH_UP:
            # A period that began long before this worker started (a nightly job seen at
            # noon) is not run late; one that began moments ago (a restart) still is.
            started[task.name] = slot
            return
        if await self.tasks.backend.claim_period(task.name, slot):
            await self.tasks.enqueue(task, task.dump_arguments((), {}))
        started[task.name] = slot
