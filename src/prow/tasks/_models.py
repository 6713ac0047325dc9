"""The task tables of the embedded backend and of the outbox, in the project's own database.

They belong to ``Model.metadata``, so ``prow makemigrations`` writes them into the project's
migrations like any model once the app imports ``prow.tasks`` (as ``prow.auth``'s tables);
``Tasks.tables()`` lists them for tests that create tables directly.

Times are stored as UNIX seconds (a float): the same on every engine, indexable, and free of
SQLite's naive datetimes. A keyed task's id is derived from its key (``task_id_for_key``), so a
second enqueue with the key is a primary-key conflict that the insert skips.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, Double, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prow.db import Model

__all__ = ["OutboxRow", "PeriodRow", "TaskRow", "new_task_id", "task_id_for_key"]

_KEYS = uuid.UUID("5c0ffee0-7a5c-4b1e-9d1e-000000000015")


def new_task_id() -> str:
    """A fresh task id (a UUID's 32 hex digits)."""
    return uuid.uuid4().hex


def task_id_for_key(key: str) -> str:
    """The id every task enqueued with idempotency ``key`` gets (so the second is a no-op)."""
    return uuid.uuid5(_KEYS, key).hex


class TaskRow(Model):
    """One task of the embedded backend, from queued to succeeded or failed."""

    __tablename__ = "prow_task"
    __table_args__ = (Index("ix_prow_task_claim", "queue", "state", "eta"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task: Mapped[str] = mapped_column(String(255))
    queue: Mapped[str] = mapped_column(String(100), default="default")
    args: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    eta: Mapped[float] = mapped_column(Double)
    key: Mapped[str | None] = mapped_column(String(255), default=None)
    timeout: Mapped[float | None] = mapped_column(Double, default=None)
    keep_result: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Double)
    # The claim: which claim holds the lease (acks from an older, expired claim are ignored)
    # and until when; a lease that ends with the task still running is handed out again.
    claim: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_until: Mapped[float | None] = mapped_column(Double, default=None)
    result: Mapped[str | None] = mapped_column(Text, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[float | None] = mapped_column(Double, default=None)


class PeriodRow(Model):
    """A period of a periodic task that some worker has started (one row per period)."""

    __tablename__ = "prow_task_period"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    slot: Mapped[float] = mapped_column(Double, primary_key=True)


class OutboxRow(Model):
    """A task enqueued in a request for a broker backend, waiting to be relayed after commit."""

    __tablename__ = "prow_task_outbox"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Double)
    sent_at: Mapped[float | None] = mapped_column(Double, default=None, index=True)
