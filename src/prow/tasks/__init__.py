"""Durable background tasks: ``@task``, the ``Tasks`` extension, workers and backends.

::

    from prow.tasks import Tasks, task

    @task(retries=5, backoff=2.0, timeout=30)
    async def send_welcome(user_id: int, db: DBSession) -> None:
        ...

    app = App(extensions=[Tasks()])        # tasks in the app's own database

    @app.post("/users", status_code=201)
    async def register(data: NewUser, db: DBSession) -> UserOut:
        ...
        await send_welcome.enqueue(user_id=user.id)   # only if this request commits

``prow worker`` runs them; ``prow tasks`` lists, retries and purges them.
"""

from prow.tasks._backend import (
    BACKEND_SCHEMES,
    Backend,
    Delivery,
    TaskInfo,
    TaskMessage,
    TaskState,
    dump_message,
    load_message,
)
from prow.tasks._embedded import DatabaseBackend
from prow.tasks._errors import TaskArgumentsError, TaskFailed
from prow.tasks._extension import Tasks
from prow.tasks._handle import TaskHandle
from prow.tasks._task import Task, TaskOptions, task
from prow.tasks._worker import Worker

__all__ = [
    "BACKEND_SCHEMES",
    "Backend",
    "DatabaseBackend",
    "Delivery",
    "Task",
    "TaskArgumentsError",
    "TaskFailed",
    "TaskHandle",
    "TaskInfo",
    "TaskMessage",
    "TaskOptions",
    "TaskState",
    "Tasks",
    "Worker",
    "dump_message",
    "load_message",
    "task",
]
