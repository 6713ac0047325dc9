"""``TaskHandle``: what ``enqueue()`` returns: the task's id, its state and (if kept) its result."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from prow._exceptions import ConfigurationError
from prow.tasks._backend import TaskState
from prow.tasks._errors import TaskFailed

if TYPE_CHECKING:
    from prow.tasks._backend import TaskInfo
    from prow.tasks._extension import Tasks
    from prow.tasks._task import Task

__all__ = ["TaskHandle"]

R = TypeVar("R")


class TaskHandle(Generic[R]):
    """A queued task: ``id``, ``await status()``, ``await result()``.

    ``added`` is False when the enqueue was a no-op (its idempotency key was already used):
    the handle then names the task enqueued first with that key.
    """

    __slots__ = ("_tasks", "added", "id", "task")

    def __init__(self, tasks: Tasks, task: Task[Any, R], task_id: str, added: bool) -> None:
        self._tasks = tasks
        self.task = task
        self.id = task_id
        self.added = added

    def __repr__(self) -> str:
        return f"<TaskHandle {self.task.name} {self.id}>"

    async def info(self) -> TaskInfo | None:
        """What the backend knows of the task (None once a task that keeps nothing is done)."""
        return await self._tasks.backend.get(self.id)

    async def status(self) -> TaskState | None:
        """queued, running, succeeded or failed; None when the backend no longer has it."""
        info = await self.info()
        return None if info is None else info.state

    async def result(self, timeout: float | None = None, poll: float = 0.05) -> R:  # noqa: ASYNC109 - awaited in a test or a script: a plain number reads best
        """Wait for the task to finish (at most ``timeout`` seconds) and return its value.

        Raises ``TaskFailed`` when it failed its last attempt, ``TimeoutError`` when it did not
        finish in time. Only tasks made with ``keep_result=True`` keep a value to return.
        """
        if not self.task.options.keep_result:
            raise ConfigurationError(
                "prow.E234",
                f"task {self.task.name} keeps no result: make it with @task(keep_result=True)",
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = await self.info()
            if info is not None and info.state is TaskState.SUCCEEDED:
                value: R = self.task.load_result(info.result or "null")
                return value
            if info is not None and info.state is TaskState.FAILED:
                raise TaskFailed(self.id, self.task.name, info.error)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {self.task.name} ({self.id}) did not finish in time")
            await asyncio.sleep(poll)
            poll = min(poll * 1.5, 1.0)
