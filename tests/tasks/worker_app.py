"""The app the reliability tests run real ``prow worker`` processes on (PROW_DATABASE_URL)."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import func, select
from sqlalchemy.orm import Mapped, mapped_column

from prow import App
from prow.db import Database, DBSession, Model
from prow.tasks import Tasks, task


class Run(Model):
    """One run of a task: which task number, in which process."""

    __tablename__ = "tasks_test_run"
    id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]
    pid: Mapped[int]


@task(name="reliability.count")
async def count(n: int, db: DBSession) -> None:
    db.add(Run(n=n, pid=os.getpid()))  # committed with the task's success


@task(name="reliability.hang")
async def hang(n: int, database: Database) -> None:
    """Note the start at once, then, on the first run only, hang (to be killed)."""
    async with database.session() as session:
        session.add(Run(n=n, pid=os.getpid()))
        await session.commit()
        runs = await session.scalar(select(func.count()).where(Run.n == n))
    if runs == 1:
        await asyncio.sleep(float(os.environ.get("HANG_SECONDS", "60")))


tasks = Tasks()
app = App(extensions=[Database(), tasks])
