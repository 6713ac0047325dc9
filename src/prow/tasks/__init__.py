"""Durable background tasks: ``@task``, ``Tasks`` (the extension), workers and backends."""

from prow.tasks._backend import (
    BACKEND_SCHEMES,
    Backend,
    Delivery,
    TaskInfo,
    TaskMessage,
    TaskState,
)

__all__ = ["BACKEND_SCHEMES", "Backend", "Delivery", "TaskInfo", "TaskMessage", "TaskState"]
