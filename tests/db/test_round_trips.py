"""The statements a request sends to PostgreSQL, counted in the server's own log.

A private PostgreSQL (``log_statement=all``) serves a small app; each test makes its requests
and reads what the server was asked. A read sends its SELECT and nothing else (no ping, no
BEGIN, no COMMIT, no ROLLBACK), a write sends BEGIN, its statements and COMMIT, the prepared
statement of a read is reused by the next request, and a server restart costs no request.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, bindparam, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from faults._private import PrivatePostgres, find_postgres_bin, unavailable
from prow import App, HTTPError
from prow.db import Connection, Database, DBSession, Model, get_or_404
from prow.tasks import Tasks, task
from prow.testing import TestClient


class TripNote(Model):
    __tablename__ = "trip_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


NOTE_TABLE = TripNote.__table__
ONE_NOTE = select(NOTE_TABLE).where(NOTE_TABLE.c.id == bindparam("id"))


class LoggedPostgres(PrivatePostgres):
    """A private server that logs every statement to ``data/log/statements.log``."""

    def _command(self) -> list[str]:
        return [
            *super()._command(),
            "-c", "logging_collector=on",
            "-c", "log_filename=statements.log",
            "-c", "log_statement=all",
            "-c", "log_line_prefix=",
        ]  # fmt: skip

    @property
    def log(self) -> Path:
        return self.data / "log" / "statements.log"

    def mark(self) -> int:
        """Where the log ends once what was sent so far is in it."""
        # The collector writes what backends send it a moment later (longer on a busy
        # machine): wait until the log has stopped growing.
        size = -1
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.log.stat().st_size if self.log.exists() else 0
            if now == size:
                break
            size = now
        return size

    def statements_since(self, mark: int) -> list[str]:
        """The statements logged after ``mark``."""
        self.mark()
        with self.log.open("rb") as log:
            log.seek(mark)
            text = log.read().decode()
        found = []
        for line in text.splitlines():
            _, _, statement = line.partition(":")
            statement = statement.strip()
            if line.startswith("LOG:") and statement.startswith(("statement: ", "execute ")):
                # "statement: BEGIN" (simple protocol), "execute __asyncpg_stmt_1__: SELECT ..."
                kind, _, sql = statement.partition(": ")
                found.append(sql if kind == "statement" else f"[{kind}] {sql}")
        return found


@pytest.fixture(scope="module")
def postgres() -> Iterator[LoggedPostgres]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        unavailable("the PostgreSQL server binaries (initdb, postgres) are not installed")
    assert bin_dir is not None
    server = LoggedPostgres(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()


def build_app(url: str, **options: Any) -> App:
    app = App()
    app.install(Database(url, **options))

    @app.get("/core/{note_id}")
    async def core(note_id: int, connection: Connection) -> dict[str, object]:
        found = (await connection.execute(ONE_NOTE, {"id": note_id})).mappings().first()
        if found is None:
            raise HTTPError(404, "no such note")
        return dict(found)

    @app.get("/orm/{note_id}")
    async def orm(note_id: int, session: DBSession) -> dict[str, object]:
        note = await get_or_404(session, TripNote, note_id)
        return {"id": note.id, "text": note.text}

    @app.post("/orm", status_code=201)
    async def add(session: DBSession) -> dict[str, object]:
        note = TripNote(text="added")
        session.add(note)
        await session.flush()
        return {"id": note.id}

    @app.post("/many")
    async def many(connection: Connection, fail: bool = False) -> None:
        await connection.execute(NOTE_TABLE.insert(), [{"text": "many"}, {"text": "many"}])
        if fail:
            raise HTTPError(409, "changed my mind")

    @app.get("/pid")
    async def pid(connection: Connection) -> int:
        return int(await connection.scalar(select(func.pg_backend_pid())) or 0)

    @app.get("/unused")
    async def unused(session: DBSession) -> dict[str, object]:
        return {}

    return app


@pytest.fixture(scope="module")
def client(postgres: LoggedPostgres) -> Iterator[TestClient]:
    asyncio.run(_store_a_note(postgres.url))
    with TestClient(build_app(postgres.url)) as test_client:
        yield test_client


async def _store_a_note(url: str) -> None:
    db = Database(url)
    await db.create_all(TripNote)
    async with db.connect() as connection:
        await connection.execute(NOTE_TABLE.insert(), [{"text": "one"}])
        await connection.commit()
    await db.dispose()


def warm(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200  # the connection and its prepared statement


def test_a_core_read_sends_only_its_select(client: TestClient, postgres: LoggedPostgres) -> None:
    warm(client, "/core/1")
    mark = postgres.mark()
    assert client.get("/core/1").json() == {"id": 1, "text": "one"}
    assert client.get("/core/1").status_code == 200
    sent = postgres.statements_since(mark)
    assert len(sent) == 2, sent
    # the same prepared statement both times: prepared once per connection, reused
    assert sent[0] == sent[1] and sent[0].startswith("[execute __asyncpg_stmt_"), sent
    assert "SELECT" in sent[0]


def test_an_orm_read_sends_only_its_select(client: TestClient, postgres: LoggedPostgres) -> None:
    warm(client, "/orm/1")
    mark = postgres.mark()
    assert client.get("/orm/1").json() == {"id": 1, "text": "one"}
    sent = postgres.statements_since(mark)
    assert len(sent) == 1 and "SELECT" in sent[0], sent


def test_a_missing_row_sends_only_its_select(client: TestClient, postgres: LoggedPostgres) -> None:
    warm(client, "/orm/1")
    mark = postgres.mark()
    assert client.get("/orm/999").status_code == 404
    sent = postgres.statements_since(mark)
    assert len(sent) == 1 and "SELECT" in sent[0], sent


def test_an_unused_session_sends_nothing(client: TestClient, postgres: LoggedPostgres) -> None:
    mark = postgres.mark()
    assert client.get("/unused").status_code == 200
    assert postgres.statements_since(mark) == []


def test_a_write_is_one_transaction(client: TestClient, postgres: LoggedPostgres) -> None:
    assert client.post("/orm").status_code == 201
    mark = postgres.mark()
    created = client.post("/orm")
    assert created.status_code == 201
    sent = postgres.statements_since(mark)
    assert len(sent) == 3, sent
    assert sent[0] == "BEGIN;" or sent[0].startswith("BEGIN"), sent
    assert "INSERT INTO trip_note" in sent[1]
    assert sent[2].startswith("COMMIT"), sent
    assert client.get(f"/orm/{created.json()['id']}").json()["text"] == "added"


def test_a_write_of_many_rows_is_one_transaction(
    client: TestClient, postgres: LoggedPostgres
) -> None:
    mark = postgres.mark()
    assert client.post("/many").status_code == 200
    sent = postgres.statements_since(mark)
    assert sent[0].startswith("BEGIN") and sent[-1].startswith("COMMIT"), sent
    count = asyncio.run(_count_many(postgres.url))
    assert client.post("/many?fail=true").status_code == 409
    assert asyncio.run(_count_many(postgres.url)) == count  # rolled back, both rows


async def _count_many(url: str) -> int:
    db = Database(url)
    async with db.connect() as connection:
        found = await connection.scalar(
            select(func.count()).select_from(NOTE_TABLE).where(NOTE_TABLE.c.text == "many")
        )
    await db.dispose()
    return int(found or 0)


def test_a_restarted_server_costs_no_request(client: TestClient, postgres: LoggedPostgres) -> None:
    warm(client, "/core/1")
    postgres.stop(signal.SIGINT)  # fast shutdown: the server closes every connection
    postgres.start()
    time.sleep(0.2)  # asyncpg sees the closed sockets as soon as its loop runs
    assert client.get("/core/1").json() == {"id": 1, "text": "one"}
    assert client.get("/orm/1").json() == {"id": 1, "text": "one"}
    assert client.post("/orm").status_code == 201


def test_a_connection_the_server_just_killed_costs_no_request(
    client: TestClient, postgres: LoggedPostgres
) -> None:
    # The server's farewell arrives, the socket is not closed yet: the request's first
    # statement fails before it is sent, and runs again on a new connection.
    for _ in range(5):
        pid = client.get("/pid").json()
        asyncio.run(_terminate(postgres.url, pid))
        again = client.get("/pid")
        assert again.status_code == 200, again.text
        assert again.json() != pid
        assert client.get("/orm/1").status_code == 200


async def _terminate(url: str, pid: int) -> None:
    db = Database(url)
    async with db.connect() as connection:
        await connection.execute(select(func.pg_terminate_backend(pid)))
    await db.dispose()


def test_without_lazy_begin_a_read_is_one_transaction(postgres: LoggedPostgres) -> None:
    with TestClient(build_app(postgres.url, lazy_begin=False)) as other:
        warm(other, "/core/1")
        mark = postgres.mark()
        assert other.get("/core/1").status_code == 200
        sent = postgres.statements_since(mark)
    assert [s.split()[0] for s in sent] == ["BEGIN;", "[execute", "COMMIT;"], sent


def test_repeatable_read_begins_before_its_first_read(postgres: LoggedPostgres) -> None:
    app = App()
    db = app.install(Database(postgres.url))

    @app.get("/snapshot")
    async def snapshot(connection: Connection) -> int:
        await connection.execution_options(isolation_level="REPEATABLE READ")
        return int(await connection.scalar(select(func.count()).select_from(NOTE_TABLE)) or 0)

    with TestClient(app) as other:
        assert other.get("/snapshot").status_code == 200
        mark = postgres.mark()
        assert other.get("/snapshot").status_code == 200
        sent = postgres.statements_since(mark)
    assert sent[0].startswith("BEGIN ISOLATION LEVEL REPEATABLE READ"), sent
    assert db.url.startswith("postgresql+asyncpg")


# -- enqueue() adds no round trip: its INSERT travels with the COMMIT ----------------------------

ODD_TEXT = "it's a \\ back'slash, ünïcode; COMMIT; --"


@task(name="trips.welcome")
async def welcome(text: str) -> None:
    pass


def tasks_app(url: str) -> tuple[App, Tasks]:
    app = App()
    app.install(Database(url))
    tasks = app.install(Tasks())

    @app.post("/write-and-enqueue", status_code=201)
    async def write_and_enqueue(session: DBSession) -> dict[str, object]:
        note = TripNote(text="welcome")
        session.add(note)
        await session.flush()
        handle = await welcome.enqueue(ODD_TEXT)
        return {"id": note.id, "task": handle.id}

    @app.post("/enqueue", status_code=201)
    async def enqueue_only(session: DBSession) -> str:
        return (await welcome.enqueue(ODD_TEXT)).id

    @app.post("/enqueue-then-fail")
    async def enqueue_then_fail(session: DBSession) -> None:
        session.add(TripNote(text="never"))
        await welcome.enqueue("never")
        raise HTTPError(409, "changed my mind")

    @app.post("/enqueue-in-savepoints", status_code=201)
    async def enqueue_in_savepoints(session: DBSession) -> list[str]:
        kept = []
        async with session.begin_nested():
            kept.append((await welcome.enqueue("kept")).id)
        savepoint = await session.begin_nested()
        await welcome.enqueue("rolled back")
        await savepoint.rollback()
        kept.append((await welcome.enqueue("after")).id)
        return kept

    @app.post("/core-enqueue", status_code=201)
    async def core_enqueue(connection: Connection) -> str:
        return (await welcome.enqueue("core")).id

    @app.get("/queued")
    async def queued(connection: Connection) -> list[list[str]]:
        rows = await connection.execute(text("SELECT id, args FROM prow_task"))
        return [[row.id, json.loads(row.args)["text"]] for row in rows]

    return app, tasks


@pytest.fixture(scope="module")
def task_client(postgres: LoggedPostgres) -> Iterator[TestClient]:
    app, tasks = tasks_app(postgres.url)
    with TestClient(app) as test_client:
        asyncio.run(_create_tables(postgres.url, tasks))
        yield test_client


async def _create_tables(url: str, tasks: Tasks) -> None:
    db = Database(url)
    await db.create_all(TripNote, *tasks.tables())
    await db.dispose()


def queued(client: TestClient) -> dict[str, str]:
    return {task_id: text for task_id, text in client.get("/queued").json()}


def test_enqueue_in_a_write_adds_no_round_trip(
    task_client: TestClient, postgres: LoggedPostgres
) -> None:
    assert task_client.post("/write-and-enqueue").status_code == 201
    mark = postgres.mark()
    created = task_client.post("/write-and-enqueue")
    assert created.status_code == 201
    sent = postgres.statements_since(mark)
    # BEGIN, the note's INSERT, then the task's INSERT in the COMMIT's own message
    assert len(sent) == 3, sent
    assert "INSERT INTO trip_note" in sent[1]
    assert sent[2].startswith('INSERT INTO "prow_task"') and sent[2].endswith("COMMIT;"), sent
    assert queued(task_client)[created.json()["task"]] == ODD_TEXT  # quotes survive as data


def test_enqueue_alone_is_one_insert(task_client: TestClient, postgres: LoggedPostgres) -> None:
    mark = postgres.mark()
    created = task_client.post("/enqueue")
    sent = postgres.statements_since(mark)
    assert len(sent) == 1 and sent[0].startswith('INSERT INTO "prow_task"'), sent
    # no transaction was begun: the INSERT is a statement on its own, no COMMIT after it
    assert sent[0].endswith("ON CONFLICT DO NOTHING;"), sent
    assert queued(task_client)[created.json()] == ODD_TEXT


def test_a_failed_request_enqueues_nothing(task_client: TestClient) -> None:
    assert task_client.post("/enqueue-then-fail").status_code == 409
    assert "never" not in queued(task_client).values()
    # the connection goes back to the pool with nothing held for a later COMMIT
    task_client.post("/write-and-enqueue")
    assert "never" not in queued(task_client).values()


def test_a_rolled_back_savepoint_takes_its_task(task_client: TestClient) -> None:
    created = task_client.post("/enqueue-in-savepoints")
    assert created.status_code == 201, created.text
    found = queued(task_client)
    assert [found[task_id] for task_id in created.json()] == ["kept", "after"]
    assert "rolled back" not in found.values()


def test_enqueue_on_a_connection(task_client: TestClient) -> None:
    created = task_client.post("/core-enqueue")
    assert created.status_code == 201
    assert queued(task_client)[created.json()] == "core"
