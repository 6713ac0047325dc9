"""Real ``prow worker`` processes: at-least-once on kill -9, exactly once when none crash,
graceful stop on SIGTERM. The database is SQLite (a file) or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from _services import require
from prow import App
from prow.db import Database
from prow.tasks import Tasks, TaskState

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
APP = f"{HERE / 'worker_app.py'}:app"
_spec = importlib.util.spec_from_file_location("tasks_worker_app", HERE / "worker_app.py")
assert _spec is not None and _spec.loader is not None
worker_app: Any = importlib.util.module_from_spec(_spec)
sys.modules["tasks_worker_app"] = worker_app
_spec.loader.exec_module(worker_app)
Run = worker_app.Run


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'workers.sqlite3'}"
    url = os.environ.get(
        "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parts = urlsplit(url)
    require("PostgreSQL", parts.hostname or "127.0.0.1", parts.port or 5432)
    return url


class Project:
    """The test's side: the same tables and tasks as the workers, on the same database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tasks = Tasks()
        self.app = App(extensions=[Database(url), self.tasks])
        self.workers: list[subprocess.Popen[bytes]] = []
        self._runner = asyncio.Runner()  # one loop, the app started once, for every check
        self._stack = contextlib.AsyncExitStack()
        self._runner.run(self._stack.enter_async_context(self.app.running()))

    def run(self, action: Any) -> Any:
        return self._runner.run(action())

    def close(self) -> None:
        self._runner.run(self._stack.aclose())
        self._runner.close()

    async def reset(self) -> None:
        db = self.app.extension(Database)
        await db.drop_all(Run, *self.tasks.tables())
        await db.create_all(Run, *self.tasks.tables())

    async def runs(self) -> list[tuple[int, int]]:
        async with self.app.extension(Database).session() as session:
            return [tuple(row) for row in (await session.execute(select(Run.n, Run.pid))).all()]

    async def run_count(self) -> int:
        async with self.app.extension(Database).session() as session:
            return int(await session.scalar(select(func.count()).select_from(Run)) or 0)

    def start_worker(self, *options: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PROW_DATABASE_URL": self.url, "HANG_SECONDS": "60"}
        command = [sys.executable, "-m", "prow.cli", "worker", "--app", APP, *options]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
        self.workers.append(process)
        return process

    def wait_for(self, what: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.run(what):
            for process in self.workers:
                if process.poll() not in (None, 0, -9):
                    raise AssertionError(process.stderr.read().decode())  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.2)

    def stop_all(self) -> list[int]:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        return [process.wait(timeout=60) for process in self.workers]


@pytest.fixture
def project(url: str) -> Iterator[Project]:
    made = Project(url)
    made.run(made.reset)
    yield made
    for process in made.workers:
        if process.poll() is None:
            process.kill()
            process.wait()
    made.close()


def test_four_workers_run_each_task_exactly_once(project: Project) -> None:
    total = int(os.environ.get("PROW_TASKS_EXACTLY_ONCE_N", "200"))

    async def enqueue_all() -> None:
        for n in range(total):
            await worker_app.count.enqueue(n)

    project.run(enqueue_all)
    started = time.monotonic()
    for _ in range(4):
        project.start_worker("--concurrency", "8")

    async def all_ran() -> bool:
        return await project.run_count() >= total

    project.wait_for(all_ran, timeout=60 + total * 0.1)
    elapsed = time.monotonic() - started
    assert project.stop_all() == [0, 0, 0, 0]
    runs = project.run(project.runs)
    numbers = [n for n, _ in runs]
    assert len(numbers) == total and set(numbers) == set(range(total))  # each exactly once
    assert len({pid for _, pid in runs}) > 1  # the work was shared
    print(f"{total} tasks, 4 workers: {elapsed:.1f} s ({total / elapsed:.0f} tasks/s)")


def test_a_task_of_a_killed_worker_runs_again_on_another(project: Project) -> None:
    async def enqueue() -> str:
        handle = await worker_app.hang.enqueue(1)
        return handle.id

    task_id = project.run(enqueue)
    first = project.start_worker("--lease", "1.5")

    async def started() -> bool:
        return await project.run_count() >= 1

    project.wait_for(started)
    first.kill()  # kill -9 in the middle of the task
    first.wait()
    second = project.start_worker("--lease", "1.5")

    async def done() -> bool:
        return await project.tasks.backend.get(task_id) is None

    project.wait_for(done, timeout=30)
    assert project.stop_all()[1] == 0
    runs = project.run(project.runs)
    assert [pid for _, pid in runs] == [first.pid, second.pid]


def test_sigterm_gives_an_unfinished_task_back(project: Project) -> None:
    async def enqueue() -> str:
        handle = await worker_app.hang.enqueue(2)
        return handle.id

    task_id = project.run(enqueue)
    project.start_worker("--grace", "0.5")

    async def started() -> bool:
        return await project.run_count() >= 1

    project.wait_for(started)
    assert project.stop_all() == [0]

    async def state() -> Any:
        return await project.tasks.backend.get(task_id)

    info = project.run(state)
    assert info.state is TaskState.QUEUED and info.message.attempts == 0
