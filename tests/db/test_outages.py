"""A database that is cut off, slow or silent answers 503 with Retry-After, within its timeouts.

The shared test servers are never stopped or frozen here: outages are made by killing this
test's own connection, by a statement longer than the timeout, by a lock held on a SQLite
file, and by a socket that accepts connections and never says a word. Stopping and freezing
whole servers is in ``tests/faults`` (private instances).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import String, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, ConfigurationError
from prow.db import Connection, Database, Model, Session, use_database
from prow.testing import AsyncTestClient, TestClient


class OuNote(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


_SLEEP = {"postgresql": "SELECT pg_sleep({})", "mysql": "SELECT SLEEP({})"}
# Finds the connection running this test's sleep, and ends it from another connection.
_FIND = {
    "postgresql": (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND query LIKE 'SELECT pg_sleep(%' AND pid <> pg_backend_pid()"
    ),
    "mysql": (
        "SELECT id FROM information_schema.processlist WHERE db = DATABASE() "
        "AND info LIKE 'SELECT SLEEP(%' AND id <> CONNECTION_ID()"
    ),
}
_KILL = {"postgresql": "SELECT pg_terminate_backend({})", "mysql": "KILL {}"}


def notes_app(url: str, **options: float) -> App:
    app = App()
    use_database(app, url, **options)
    kind = make_url(url).get_backend_name()

    @app.get("/sleep")
    async def sleep(connection: Connection, seconds: float = 5) -> int:
        await connection.execute(text(_SLEEP[kind].format(float(seconds))))
        return 1

    @app.post("/notes", status_code=201)
    async def add_note(session: Session, then_sleep: float = 0) -> str:
        session.add(OuNote(text="kept only if committed"))
        await session.flush()
        if then_sleep:
            await session.execute(text(_SLEEP[kind].format(float(then_sleep))))
        return "created"

    @app.get("/notes/count")
    async def count(session: Session) -> int:
        return (await session.execute(select(func.count()).select_from(OuNote))).scalar_one()

    return app


async def _kill_the_sleeper(url: str) -> None:
    kind = make_url(url).get_backend_name()
    admin = Database(url)
    try:
        async with admin.engine.connect() as connection:
            for _ in range(100):  # bounded: the request starts its sleep within 5 s
                found = (await connection.execute(text(_FIND[kind]))).scalars().all()
                # A new transaction per look: PostgreSQL keeps pg_stat_activity's
                # snapshot for the whole transaction.
                await connection.rollback()
                if found:
                    await connection.execute(text(_KILL[kind].format(int(found[0]))))
                    return
                await asyncio.sleep(0.05)
        raise AssertionError("the request's statement never started")
    finally:
        await admin.dispose()


@pytest.mark.anyio
async def test_a_statement_the_server_cuts_off_answers_503_then_recovers(
    server_database_url: str,
) -> None:
    # PostgreSQL says 57P01 "terminating connection due to administrator command",
    # which asyncpg hands over as a plain DBAPIError: the SQLSTATE makes it a 503.
    async with AsyncTestClient(notes_app(server_database_url)) as client:
        request = asyncio.create_task(client.get("/sleep?seconds=20"))
        await _kill_the_sleeper(server_database_url)
        cut = await asyncio.wait_for(request, 10)
        assert cut.status_code == 503, cut.text
        assert cut.headers["retry-after"] == "5"
        # The pool drops the dead connection; the next request is served.
        assert (await client.get("/sleep?seconds=0")).json() == 1


@pytest.fixture
def notes_table(make_tables: Callable[..., None]) -> Callable[[str], None]:
    return lambda url: make_tables(url, OuNote)


def test_a_statement_past_the_statement_timeout_answers_503_and_never_commits(
    server_database_url: str, notes_table: Callable[[str], None]
) -> None:
    notes_table(server_database_url)
    app = notes_app(server_database_url, statement_timeout=0.5)
    with TestClient(app) as client:
        started = time.monotonic()
        slow = client.post("/notes?then_sleep=5")
        waited = time.monotonic() - started
        assert slow.status_code == 503, slow.text
        assert slow.headers["retry-after"] == "5"
        assert waited < 4, f"answered after {waited:.1f}s, past the 0.5s statement timeout"
        # The row flushed before the slow statement was rolled back with it.
        assert client.get("/notes/count").json() == 0
        assert client.post("/notes").status_code == 201
        assert client.get("/notes/count").json() == 1


@pytest.mark.anyio
async def test_sqlite_waits_for_a_lock_no_longer_than_the_statement_timeout(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    db = Database(url)
    await db.create_all(OuNote)
    app = notes_app(url, statement_timeout=0.3)
    try:
        async with AsyncTestClient(app) as client, db.engine.connect() as holder:
            # An uncommitted write holds the file's write lock.
            await holder.execute(OuNote.__table__.insert().values(text="holding"))
            started = time.monotonic()
            locked = await client.post("/notes")
            waited = time.monotonic() - started
            assert locked.status_code == 503
            assert locked.headers["retry-after"] == "5"
            assert waited < 3, f"answered after {waited:.1f}s"
            await holder.rollback()
            assert (await client.post("/notes")).status_code == 201
    finally:
        await db.dispose()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a frozen server's view)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes handshakes; nobody ever reads
        yield listener.getsockname()[1]


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_a_server_that_never_answers_gets_503_after_the_connect_timeout(
    scheme: str, silent_server: int
) -> None:
    app = App()
    use_database(app, f"{scheme}://user@127.0.0.1:{silent_server}/app", connect_timeout=0.5)

    @app.get("/one")
    async def one(session: Session) -> int:
        return (await session.execute(select(1))).scalar_one()

    with TestClient(app) as client:
        started = time.monotonic()
        silent = client.get("/one")
        waited = time.monotonic() - started
    assert silent.status_code == 503
    assert silent.headers["retry-after"] == "5"
    assert waited < 4, f"answered after {waited:.1f}s, past the 0.5s connect timeout"


@pytest.mark.parametrize(
    "options",
    [{"statement_timeout": 0}, {"connect_timeout": -1}, {"pool_timeout": "5"}],
)
def test_timeouts_must_be_positive_seconds(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Database("sqlite://", **options)  # type: ignore[arg-type]
    assert caught.value.code == "prow.E506"
    assert next(iter(options)) in str(caught.value)


def test_none_switches_a_timeout_off(tmp_path: Path) -> None:
    app = App()
    use_database(
        app,
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        connect_timeout=None,
        pool_timeout=None,
        statement_timeout=None,
    )

    @app.get("/one")
    async def one(session: Session) -> int:
        return (await session.execute(select(1))).scalar_one()

    with TestClient(app) as client:
        assert client.get("/one").json() == 1
