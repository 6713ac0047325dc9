"""The errors of ``prow.tasks`` (besides ``ConfigurationError``\\ s with ``prow.E23x`` codes)."""

from __future__ import annotations

__all__ = ["TaskArgumentsError", "TaskFailed"]


class TaskArgumentsError(TypeError):
    """``enqueue()`` was given arguments the task's signature refuses: nothing was queued."""

    def __init__(self, task: str, problem: str) -> None:
        super().__init__(f"task {task}: {problem}")
        self.task = task
        self.problem = problem


class TaskFailed(Exception):
    """The task awaited through ``handle.result()`` failed its last attempt.

    ``.traceback`` is the traceback the worker recorded.
    """

    def __init__(self, task_id: str, task: str, traceback: str | None) -> None:
        last = (traceback or "").strip().splitlines()[-1:] or ["(no traceback)"]
        super().__init__(f"task {task} ({task_id}) failed: {last[0]}")
        self.task_id = task_id
        self.traceback = traceback
