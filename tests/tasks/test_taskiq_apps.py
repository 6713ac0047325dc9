"""Apps whose tasks go through a real broker: Redis, RabbitMQ and NATS (taskiq backends).

A request enqueues into the outbox of its own transaction; the relay sends the outbox to the
broker after the commit; a worker runs the task. A broker that is down when the request
commits delays the task and loses nothing (a private Redis, stopped and started again).
A worker killed with SIGKILL in the middle of a task loses nothing either: another runs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from _brokers import KINDS, broker_url
from faults._private import private_redis
from prow import App
from prow.db import Database, DBSession, Model
from prow.tasks import Tasks, TaskState, task
from prow.testing import TestClient

ROOT = Path(__file__).resolve().parents[2]


class BrokerNote(Model):
    __tablename__ = "tasks_broker_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


calls: list[Any] = []


@task
async def write_broker_note(text: str, db: DBSession) -> None:
    db.add(BrokerNote(text=text))


@task(keep_result=True)
async def multiply(a: int, b: int) -> int:
    return a * b


@task(retries=2, backoff=0.0)
async def broken(n: int) -> None:
    calls.append(n)
    raise ValueError(f"broken {n}")


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def make_app(database_url: str, backend_url: str) -> tuple[App, Tasks]:
    tasks = Tasks(backend_url)
    app = App(extensions=[Database(database_url), tasks])

    @app.on_startup
    async def tables() -> None:
        db = app.extension(Database)
        await db.create_all(BrokerNote, *tasks.tables())

    @app.post("/notes")
    async def create(text: str, db: DBSession, fail: bool = False) -> dict[str, str]:
        handle = await write_broker_note.enqueue(text=text)
        if fail:
            raise RuntimeError("the request fails after enqueueing")
        return {"id": handle.id}

    return app, tasks


async def _notes(app: App) -> list[str]:
    async with app.extension(Database).session() as session:
        rows = await session.execute(select(BrokerNote.text).order_by(BrokerNote.id))
        return list(rows.scalars())


async def _drop(tasks: Tasks) -> None:
    await tasks.backend.drop()  # type: ignore[attr-defined]  # this test's queues, streams, keys


async def _run_until(tasks: Tasks, done: Any, seconds: float = 15.0) -> None:
    """Run pending tasks until ``done()`` is true (a broker may take a moment to deliver)."""
    deadline = time.monotonic() + seconds
    while not await done():
        assert time.monotonic() < deadline, "the tasks did not run in time"
        await tasks.run_pending()
        await asyncio.sleep(0.05)


@pytest.fixture(params=KINDS)
def backend_url(request: pytest.FixtureRequest) -> str:
    return broker_url(request.param)


def test_a_request_enqueues_through_the_outbox(backend_url: str, sqlite_url: str) -> None:
    app, tasks = make_app(sqlite_url, backend_url)

    async def two_notes() -> bool:
        return len(await _notes(app)) >= 1

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/notes?text=kept").status_code == 200
        assert client.post("/notes?text=lost&fail=true").status_code == 500
        client.portal.call(_run_until, tasks, two_notes)
        assert client.portal.call(tasks.run_pending) == 0
        assert client.portal.call(_notes, app) == ["kept"]
        client.portal.call(_drop, tasks)


def test_results_retries_and_dead_letters(backend_url: str, sqlite_url: str) -> None:
    app, tasks = make_app(sqlite_url, backend_url)
    keeps_records = getattr(tasks.backend, "records", True) is not None

    async def scenario() -> None:
        product = await multiply.enqueue(6, 7)
        failing = await broken.enqueue(1)

        async def settled() -> bool:
            return len(calls) == 3 and bool(await tasks.backend.list(TaskState.FAILED))

        await _run_until(tasks, settled)
        if keeps_records:
            assert await product.result(timeout=5) == 42
            assert await failing.status() is TaskState.FAILED
        [failed] = await tasks.backend.list(TaskState.FAILED)
        assert failed.message.id == failing.id
        assert failed.error is not None and "ValueError: broken 1" in failed.error
        assert calls == [1, 1, 1]  # the first attempt and its two retries

    with TestClient(app) as client:
        client.portal.call(scenario)
        client.portal.call(_drop, tasks)


def test_broker_down_the_request_still_commits_and_the_relay_catches_up(
    sqlite_url: str,
) -> None:
    with private_redis() as redis:
        app, tasks = make_app(sqlite_url, f"{redis.url}?prefix=outbox-test")

        async def noted() -> bool:
            return await _notes(app) == ["while down"]

        with TestClient(app) as client:
            redis.stop()
            started = time.monotonic()
            response = client.post("/notes?text=while%20down")
            assert response.status_code == 200  # committed: the task waits in the outbox
            assert time.monotonic() - started < 5
            with pytest.raises(RedisConnectionError):  # the relay cannot send: the row stays
                client.portal.call(tasks.relay)
            assert client.portal.call(_notes, app) == []
            redis.start()  # an empty Redis, as after a restart without persistence
            client.portal.call(_run_until, tasks, noted)
            assert client.portal.call(tasks.relay) == 0  # the outbox is empty now


WORKER = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from prow import App
    from prow.db import Database
    from prow.tasks import Tasks, Worker, task

    marks = Path(sys.argv[3])

    @task(name="tests.taskiq.slow")
    async def slow(n: int) -> None:
        (marks / f"started-{os.getpid()}").write_text(str(n))
        if sys.argv[4] == "hang":
            await asyncio.sleep(600)
        (marks / f"finished-{os.getpid()}").write_text(str(n))

    tasks = Tasks(sys.argv[2])
    app = App(extensions=[Database(sys.argv[1]), tasks])

    async def main():
        async with app.running():
            await app.extension(Database).create_all(*tasks.tables())
            if sys.argv[4] == "hang":
                await slow.enqueue(7)
            worker = Worker(tasks, ["default"], concurrency=1, lease=1.5, poll=0.2)
            asyncio.get_running_loop().call_later(60, worker.stop)
            if sys.argv[4] == "finish":
                async def stop_when_done():
                    while not list(marks.glob("finished-*")):
                        await asyncio.sleep(0.05)
                    worker.stop()
                asyncio.ensure_future(stop_when_done())
            await worker.run()
            if sys.argv[4] == "finish":
                await tasks.backend.drop()

    asyncio.run(main())
    """
)


def _worker(database_url: str, backend_url: str, marks: Path, mode: str) -> subprocess.Popen[bytes]:
    script = marks / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, str(script), database_url, backend_url, str(marks), mode], env=env
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_killed_worker_s_task_runs_on_another_worker(kind: str, tmp_path: Path) -> None:
    backend_url = broker_url(kind)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'tasks.sqlite3'}"
    marks = tmp_path / "marks"
    marks.mkdir()
    first = _worker(database_url, backend_url, marks, "hang")
    try:
        deadline = time.monotonic() + 60
        while not list(marks.glob("started-*")):
            assert first.poll() is None and time.monotonic() < deadline, "no task started"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)  # in the middle of the task
        first.wait(10)
        second = _worker(database_url, backend_url, marks, "finish")
        assert second.wait(90) == 0
    finally:
        for process in (first,):
            if process.poll() is None:
                process.kill()
    finished = list(marks.glob("finished-*"))
    assert [path.read_text() for path in finished] == ["7"]
    assert finished[0].name != f"finished-{first.pid}"
