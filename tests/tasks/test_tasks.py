"""prow.tasks through its public API: enqueue, transactions, keys, results, retries, DI."""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, ConfigurationError
from prow.db import Connection, Database, DBSession, Model
from prow.tasks import TaskArgumentsError, TaskFailed, Tasks, TaskState, Worker, task
from prow.testing import TestClient


class Note(Model):
    __tablename__ = "tasks_test_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


calls: list[Any] = []


@task(keep_result=True)
async def add(a: int, b: int = 1) -> int:
    calls.append(("add", a, b))
    return a + b


@task
async def write_note(text: str, db: DBSession) -> None:
    db.add(Note(text=text))


@task(retries=2, backoff=0.0)
async def always_fails(n: int) -> None:
    calls.append(("fails", n))
    raise ValueError(f"failure {n}")


@task(retries=1, backoff=0.0, timeout=0.2)
async def too_slow() -> None:
    calls.append(("slow",))
    await asyncio.sleep(5)


@task(keep_result=True)
def sync_square(x: float) -> float:
    return x * x


def make_app(url: str) -> tuple[App, Tasks]:
    tasks = Tasks()
    app = App(extensions=[Database(url), tasks])

    @app.on_startup
    async def tables() -> None:
        db = app.extension(Database)
        await db.drop_all(Note, *tasks.tables())
        await db.create_all(Note, *tasks.tables())

    @app.post("/notes")
    async def create(text: str, db: DBSession, fail: bool = False) -> dict[str, str]:
        handle = await write_note.enqueue(text=text)
        if fail:
            raise RuntimeError("the request fails after enqueueing")
        return {"id": handle.id}

    @app.post("/plain")
    async def plain() -> dict[str, str]:  # no session: the task is sent at once
        handle = await add.enqueue(2, b=3)
        return {"id": handle.id}

    return app, tasks


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


async def _notes(app: App) -> list[str]:
    async with app.extension(Database).session() as session:
        return list((await session.execute(select(Note.text).order_by(Note.id))).scalars())


def test_enqueue_in_a_request_is_transactional(database_url: str) -> None:
    app, tasks = make_app(database_url)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/notes?text=kept").status_code == 200
        assert client.post("/notes?text=lost&fail=true").status_code == 500
        assert client.portal.call(tasks.run_pending) == 1
        assert client.portal.call(_notes, app) == ["kept"]  # the task's DBSession committed
        assert client.portal.call(tasks.run_pending) == 0


def test_wrong_arguments_fail_the_enqueue(sqlite_url: str) -> None:
    app, tasks = make_app(sqlite_url)
    with TestClient(app) as client:
        with pytest.raises(TaskArgumentsError, match="a: Input should be a valid integer"):
            client.portal.call(lambda: add.enqueue("not a number"))
        with pytest.raises(TaskArgumentsError, match="c: Extra inputs"):
            client.portal.call(lambda: add.enqueue(1, c=2))
        with pytest.raises(TaskArgumentsError, match="a: Field required"):
            client.portal.call(lambda: add.enqueue(b=2))
        assert client.portal.call(tasks.run_pending) == 0


def test_result_status_and_keys(database_url: str) -> None:
    app, tasks = make_app(database_url)

    async def scenario() -> None:
        first = await add.enqueue(20, b=22, key="answer")
        second = await add.enqueue(1, key="answer")
        assert first.added and not second.added and second.id == first.id
        assert await first.status() is TaskState.QUEUED
        assert await tasks.run_pending() == 1
        assert await first.result(timeout=5) == 42
        assert await second.status() is TaskState.SUCCEEDED
        again = await add.enqueue(1, key="answer")  # the key is still used: a no-op
        assert not again.added
        assert await tasks.run_pending() == 0
        assert calls == [("add", 20, 22)]
        square = await sync_square.enqueue(1.5)
        await tasks.run_pending()
        assert await square.result() == 2.25

    with TestClient(app) as client:
        client.portal.call(scenario)


def test_enqueue_outside_a_session_sends_at_once(sqlite_url: str) -> None:
    app, tasks = make_app(sqlite_url)
    with TestClient(app) as client:
        assert client.post("/plain").status_code == 200
        assert client.portal.call(tasks.run_pending) == 1
    assert calls == [("add", 2, 3)]


def test_failures_retry_then_dead_letter_with_the_traceback(database_url: str) -> None:
    app, tasks = make_app(database_url)

    async def scenario() -> None:
        handle = await always_fails.enqueue(7)
        assert await tasks.run_pending() == 3  # the first attempt and two retries
        info = await handle.info()
        assert info is not None and info.state is TaskState.FAILED
        assert info.message.attempts == 3
        assert info.error is not None and "ValueError: failure 7" in info.error
        assert "Traceback" in info.error
        failed = await tasks.backend.list(TaskState.FAILED)
        assert [i.message.id for i in failed] == [handle.id]
        assert await tasks.backend.retry_failed() == 1
        assert await tasks.run_pending() == 3
        assert await tasks.backend.purge(TaskState.FAILED) == 1
        assert await handle.info() is None

    with TestClient(app) as client:
        client.portal.call(scenario)
    assert calls == [("fails", 7)] * 6


def test_a_failed_result_raises(sqlite_url: str) -> None:
    @task(keep_result=True, name="tests.tasks.fails_with_result")
    async def broken() -> int:
        raise KeyError("missing")

    app, tasks = make_app(sqlite_url)

    async def scenario() -> None:
        handle = await broken.enqueue()
        await tasks.run_pending()
        with pytest.raises(TaskFailed, match="KeyError: 'missing'"):
            await handle.result()

    with TestClient(app) as client:
        client.portal.call(scenario)


def test_backoff_delays_the_retry(sqlite_url: str) -> None:
    @task(retries=3, backoff=10.0, name="tests.tasks.backs_off")
    async def flaky() -> None:
        raise OSError("down")

    assert 5.0 <= flaky.options.delay(1) < 15.0
    assert 20.0 <= flaky.options.delay(3) < 60.0
    app, tasks = make_app(sqlite_url)

    async def scenario() -> None:
        handle = await flaky.enqueue()
        assert await tasks.run_pending() == 1  # the retry is not due for seconds
        info = await handle.info()
        assert info is not None and info.state is TaskState.QUEUED
        assert info.message.attempts == 1
        wait = info.message.eta - datetime.datetime.now(datetime.UTC)  # type: ignore[operator]
        assert 3.0 < wait.total_seconds() < 15.0

    with TestClient(app) as client:
        client.portal.call(scenario)


def test_a_timeout_cancels_and_retries(sqlite_url: str) -> None:
    app, tasks = make_app(sqlite_url)

    async def scenario() -> None:
        handle = await too_slow.enqueue()
        assert await tasks.run_pending() == 2
        info = await handle.info()
        assert info is not None and info.state is TaskState.FAILED
        assert info.error is not None and "exceeded its timeout of 0.2 s" in info.error

    with TestClient(app) as client:
        client.portal.call(scenario)
    assert calls == [("slow",)] * 2


def test_worker_runs_tasks_and_periodic_ones_once_per_period(sqlite_url: str) -> None:
    @task(every=datetime.timedelta(seconds=1), queue="ticks", name="tests.tasks.tick")
    async def tick() -> None:
        calls.append(("tick",))

    minute = (datetime.datetime.now(datetime.UTC).minute + 30) % 60

    @task(schedule=f"{minute} * * * *", queue="ticks", name="tests.tasks.hourly")
    async def hourly() -> None:  # its last period began 30 minutes ago: not run late
        calls.append(("hourly",))

    app, tasks = make_app(sqlite_url)

    async def scenario() -> None:
        for n in range(5):
            await add.enqueue(n)
        queues = ["default", "ticks"]
        workers = [Worker(tasks, queues, concurrency=2, poll=0.05) for _ in range(2)]
        runs = [asyncio.ensure_future(w.run()) for w in workers]
        await asyncio.sleep(2.5)
        for worker in workers:
            worker.stop()
        await asyncio.gather(*runs)

    with TestClient(app) as client:
        client.portal.call(scenario)
    assert sorted(c for c in calls if c[0] == "add") == [("add", n, 1) for n in range(5)]
    ticks = calls.count(("tick",))
    assert 2 <= ticks <= 4  # one per second across both workers, not one per worker
    assert ("hourly",) not in calls


def test_configuration_mistakes_have_codes() -> None:
    with pytest.raises(ConfigurationError) as bad_cron:
        task(schedule="every monday")(add.function)
    assert bad_cron.value.code == "prow.E230"
    with pytest.raises(ConfigurationError) as negative:
        task(retries=-1)(add.function)
    assert negative.value.code == "prow.E230"

    @task(name="tests.tasks.reserved")
    async def reserved(key: str) -> None: ...

    with pytest.raises(ConfigurationError) as planned:
        reserved.plan()
    assert planned.value.code == "prow.E231"
    with pytest.raises(ConfigurationError) as backend:
        Tasks("ftp://nowhere").backend  # noqa: B018
    assert backend.value.code == "prow.E233"
    with pytest.raises(ConfigurationError) as kept:
        asyncio.run(_result_of_unkept())
    assert kept.value.code == "prow.E234"


async def _result_of_unkept() -> None:
    from prow.tasks import TaskHandle

    await TaskHandle(Tasks(), write_note, "x", True).result()


def test_ready_asks_a_backend_of_its_own(tmp_path: Path) -> None:
    tasks = Tasks(f"sqlite+aiosqlite:///{tmp_path / 'own.sqlite3'}")
    app = App(extensions=[Database(f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"), tasks])
    with TestClient(app) as client:
        client.portal.call(tasks.ready, app)  # SELECT 1 on the tasks' own database


def test_connection_requests_and_keys_inside_a_transaction(database_url: str) -> None:
    app, tasks = make_app(database_url)

    @app.post("/core")
    async def core(connection: Connection, fail: bool = False) -> dict[str, bool]:
        first = await add.enqueue(1, key="core-once")
        second = await add.enqueue(2, key="core-once")  # skipped, the transaction goes on
        if fail:
            raise RuntimeError("rolled back")
        return {"first": first.added, "second": second.added}

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/core?fail=true").status_code == 500
        assert client.portal.call(tasks.run_pending) == 0  # rolled back with the request
        assert client.post("/core").json() == {"first": True, "second": False}
        assert client.portal.call(tasks.run_pending) == 1
    assert calls == [("add", 1, 1)]


def test_tasks_adds_no_middleware() -> None:
    # A request that does not enqueue pays nothing for Tasks: no ASGI layer is added.
    app = App(extensions=[Database("sqlite+aiosqlite:///:memory:"), Tasks()])
    app.build()
    assert app.user_middleware == []
