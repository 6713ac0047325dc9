"""The statements a request sends to PostgreSQL, counted in the server's own log.

A private PostgreSQL (``log_statement=all``) serves a small app; each test makes its requests
and reads what the server was asked. A read sends its SELECT and nothing else (no ping, no
BEGIN, no COMMIT, no ROLLBACK), a write sends BEGIN, its statements and COMMIT, the prepared
statement of a read is reused by the next request, and a server restart costs no request.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, bindparam, func, select
from sqlalchemy.orm import Mapped, mapped_column

from faults._private import PrivatePostgres, find_postgres_bin, unavailable
from prow import App, HTTPError
from prow.db import Connection, Database, DBSession, Model, get_or_404
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
