"""The backend contract: what ``prow.tasks`` asks of a place that stores and hands out tasks.

Two kinds of backend implement it:

- **in the database** (``in_database = True``; the embedded default): the task table lives in the
  project's own database, so ``enqueue()`` inside a request writes the task row in the request's
  session (``add``) and the request's commit or rollback decides whether the task exists.
- **a broker** (Redis, RabbitMQ, NATS through taskiq): ``enqueue()`` inside a request writes an
  *outbox* row in the request's session; after the commit, a relay reads the outbox and calls
  ``send()``, deleting what was sent. A broker that is down only delays the relay. Outside a
  request (a script, a worker), ``enqueue()`` calls ``send()`` directly.

The core (``prow.tasks``) owns everything above the backend: argument validation, the task
registry, idempotency keys for broker backends (the outbox keeps keys), backoff and jitter
(it computes the ``eta`` it passes to ``Delivery.retry``), timeouts, dependency injection and
the periodic schedule (it calls ``claim_period`` to run each period once). A backend only
stores messages, hands them out with a lease, and records what became of them.

A worker's loop is::

    deliveries = await backend.claim(["default"], limit=4, lease=60.0, wait=1.0)
    for delivery in deliveries:
        ...                                    # run delivery.message, extending the lease
        await delivery.ack(result_json)        # or retry(eta, error) / dead_letter(tb) / release()

A delivery not acked, retried, dead-lettered or released before its lease ends (the worker
was killed) is handed out again: delivery is at least once.

Broker backends are registered by URL scheme in ``BACKEND_SCHEMES`` (``"redis"`` ->
``"prow.tasks._redis:RedisBackend"``); ``Tasks("redis://...")`` imports the class lazily and calls
it with the URL.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    from prow._app import App

__all__ = [
    "BACKEND_SCHEMES",
    "Backend",
    "Delivery",
    "TaskInfo",
    "TaskMessage",
    "TaskState",
    "dump_message",
    "load_message",
    "utcnow",
]

#: URL scheme -> ``"module:Class"`` of a broker backend taking the URL as its one argument.
BACKEND_SCHEMES: dict[str, str] = {
    # taskiq's brokers (prow.tasks._taskiq explains what is used of them).
    "redis": "prow.tasks._redis:RedisBackend",
    "rediss": "prow.tasks._redis:RedisBackend",
    "amqp": "prow.tasks._amqp:AmqpBackend",
    "amqps": "prow.tasks._amqp:AmqpBackend",
    "nats": "prow.tasks._nats:NatsBackend",
}


def utcnow() -> datetime:
    """Now, as an aware UTC datetime (every datetime in the contract is aware UTC)."""
    return datetime.now(UTC)


class TaskState(enum.StrEnum):
    """Where a task is in its life."""

    QUEUED = "queued"  # waiting (possibly until its eta, possibly after a failed attempt)
    RUNNING = "running"  # claimed by a worker, lease not yet over
    SUCCEEDED = "succeeded"  # acked; its result is kept only when the task keeps results
    FAILED = "failed"  # dead-lettered after its last retry, with the traceback


@dataclass(frozen=True, slots=True)
class TaskMessage:
    """One task to run: everything a worker needs, as plain data (JSON-friendly).

    ``args`` is the JSON text of the keyword arguments, already validated against the task's
    signature at enqueue. ``attempts`` counts attempts already made (0 for a new message).
    ``retries`` is how many times a failed attempt may be retried (so at most ``retries + 1``
    attempts). ``eta`` is the earliest time to run (``None``: now). ``key`` is the idempotency
    key: a second message with a key already stored is dropped. ``timeout`` is in seconds.
    """

    id: str
    task: str
    queue: str = "default"
    args: str = "{}"
    attempts: int = 0
    retries: int = 0
    eta: datetime | None = None
    key: str | None = None
    timeout: float | None = None
    keep_result: bool = False
    created_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """What a backend knows of one task: for ``handle.status()``, ``prow tasks`` and results.

    ``result`` is the JSON text of the return value (succeeded tasks that keep results);
    ``error`` the last error's traceback (retried or failed tasks).
    """

    message: TaskMessage
    state: TaskState
    result: str | None = None
    error: str | None = None
    finished_at: datetime | None = None


class Delivery(ABC):
    """A claimed message and its lease; exactly one of ack/retry/dead_letter/release ends it."""

    message: TaskMessage

    @abstractmethod
    async def ack(self, result: str | None = None) -> None:
        """The task succeeded; ``result`` is the JSON result to keep (``None``: keep nothing)."""

    @abstractmethod
    async def retry(self, eta: datetime, error: str) -> None:
        """The attempt failed: run again at ``eta`` with ``attempts + 1`` (``error``: traceback)."""

    @abstractmethod
    async def dead_letter(self, error: str) -> None:
        """The last attempt failed: keep the task as failed with ``error`` (its traceback)."""

    @abstractmethod
    async def release(self) -> None:
        """Give the message back untouched (a worker shutting down): it runs again, same attempt."""

    @abstractmethod
    async def extend(self, lease: float) -> None:
        """Keep the lease ``lease`` more seconds from now (a long task's heartbeat)."""


class Backend(ABC):
    """Stores task messages and hands them out to workers with a lease."""

    #: True when the backend's tables are in the project's database: ``add`` enqueues in a session.
    in_database: ClassVar[bool] = False

    async def startup(self, app: App) -> None:  # noqa: B027 (optional hook)
        """Connect (called from the ``Tasks`` extension's start-up, with the app)."""

    async def shutdown(self) -> None:  # noqa: B027 (optional hook)
        """Close what ``startup`` opened."""

    async def add(self, session: AsyncSession | AsyncConnection, message: TaskMessage) -> bool:
        """Write ``message`` inside ``session``'s transaction (only when ``in_database``).

        Returns False when the message's key is already stored (the enqueue is a no-op).
        """
        raise NotImplementedError(f"{type(self).__name__} does not live in the database")

    @abstractmethod
    async def send(self, messages: Sequence[TaskMessage]) -> list[bool]:
        """Store ``messages`` now (committed on return); per message, False if its key existed."""

    @abstractmethod
    async def claim(
        self, queues: Sequence[str], *, limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        """Up to ``limit`` due messages from ``queues``, each leased ``lease`` seconds.

        Waits at most ``wait`` seconds for a first one; an empty list means none came.
        """

    @abstractmethod
    async def claim_period(self, name: str, slot: datetime) -> bool:
        """True for exactly one caller per (``name``, ``slot``) across all workers (periodic)."""

    @abstractmethod
    async def get(self, task_id: str) -> TaskInfo | None:
        """The task ``task_id``, or None if unknown (never stored, purged, or result expired)."""

    async def list(
        self, state: TaskState | None = None, queue: str | None = None, limit: int = 100
    ) -> list[TaskInfo]:
        """Tasks in ``state`` on ``queue`` (None: any), oldest first (``prow tasks``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list its tasks")

    async def retry_failed(self, ids: Sequence[str] | None = None) -> int:
        """Queue failed tasks again (``ids``, or all); how many were queued."""
        raise NotImplementedError(f"{type(self).__name__} cannot retry failed tasks")

    async def purge(self, state: TaskState | None = None, queue: str | None = None) -> int:
        """Delete tasks in ``state`` on ``queue`` (None: any) that are not running; how many."""
        raise NotImplementedError(f"{type(self).__name__} cannot purge tasks")


def dump_message(message: TaskMessage) -> str:
    """``message`` as JSON text (for an outbox row or a broker's payload)."""
    data = {
        "id": message.id,
        "task": message.task,
        "queue": message.queue,
        "args": message.args,
        "attempts": message.attempts,
        "retries": message.retries,
        "eta": None if message.eta is None else message.eta.isoformat(),
        "key": message.key,
        "timeout": message.timeout,
        "keep_result": message.keep_result,
        "created_at": message.created_at.isoformat(),
    }
    return json.dumps(data, separators=(",", ":"))


def load_message(text: str | bytes) -> TaskMessage:
    """The message :func:`dump_message` wrote."""
    data = json.loads(text)
    eta = data.pop("eta")
    created = data.pop("created_at")
    return TaskMessage(
        **data,
        eta=None if eta is None else datetime.fromisoformat(eta),
        created_at=datetime.fromisoformat(created),
    )
