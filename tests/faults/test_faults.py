"""Fault injection: PostgreSQL and Redis stopped or frozen under a bounded write load.

The app runs under uvicorn on a loopback port, with its database (private PostgreSQL) and
session store (private Redis) given short timeouts. Concurrent clients post notes, each with
a unique key, while one service is stopped (fast shutdown, SIGTERM) or frozen (SIGSTOP), and
then brought back. What must hold:

* every answer is a 201 or a 503 with ``Retry-After``: never a 500, a reset connection, or a
  wait past the timeouts (the clients' own timeout is far longer than the app's);
* the outage is seen (503s while it lasts) and the app recovers by itself, without a restart;
* no committed write is lost: every key answered 201 is in the table afterwards. (A 503 may
  still have been committed: when a COMMIT was sent and its answer never came, nobody can
  know; see docs/reliability.md.)
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import String, select, text
from sqlalchemy.orm import Mapped, mapped_column

from faults._private import (
    PrivatePostgres,
    PrivateRedis,
    ServedApp,
    private_postgres,
    private_redis,
)
from prow import App, Request
from prow.db import Database, Model, Session, use_database
from prow.middleware import Middleware
from prow.sessions import RedisStore, SessionMiddleware
from prow.testing import AsyncTestClient

KEY = "faults-secret-key-" + "Zq8wY3nV6tB1mK5r" * 2

# The app's limits, short so that the suite is fast; the clients wait far longer, so a
# request held past the limits shows up as a client timeout.
CONNECT_TIMEOUT = 1.0
POOL_TIMEOUT = 1.0
STATEMENT_TIMEOUT = 2.0
REDIS_TIMEOUT = 1.0
CLIENT_TIMEOUT = 30.0
# The longest any answer may take: a statement timing out, its connection closed (up to 2 s
# for a graceful close), a reconnection attempt; with room for a loaded 2-core machine.
LONGEST_ANSWER = 15.0

WORKERS = 6
MAX_REQUESTS = 900  # a bound on the load, whatever happens
OUTAGE_SECONDS = 2.5
RECOVERY_DEADLINE = 25.0


class FaultNote(Model):
    __tablename__ = "fault_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)


def build_app(database_url: str, redis_url: str) -> App:
    store = RedisStore(redis_url, timeout=REDIS_TIMEOUT)
    app = App(secret_key=KEY, csrf=False, middleware=[Middleware(SessionMiddleware, store=store)])
    use_database(
        app,
        database_url,
        pool_size=4,
        max_overflow=0,
        connect_timeout=CONNECT_TIMEOUT,
        pool_timeout=POOL_TIMEOUT,
        statement_timeout=STATEMENT_TIMEOUT,
    )

    @app.post("/notes", status_code=201)
    async def add_note(key: str, request: Request, session: Session) -> str:
        # Every request reads and writes its session in Redis and a row in PostgreSQL.
        request.session["writes"] = int(request.session.get("writes", 0)) + 1
        session.add(FaultNote(key=key))
        return key

    return app


# -- the load ---------------------------------------------------------------------------


@dataclass
class Outcome:
    key: str
    started: float
    elapsed: float
    status: int | str  # an HTTP status, or what went wrong on the client's side
    retry_after: str | None = None


@dataclass
class Load:
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def statuses(self) -> set[int | str]:
        return {outcome.status for outcome in self.outcomes}

    def created_after(self, moment: float) -> bool:
        return any(o.status == 201 and o.started >= moment for o in self.outcomes)


async def _worker(base_url: str, number: int, load: Load) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=CLIENT_TIMEOUT) as client:
        sent = 0
        while not load.stop.is_set() and len(load.outcomes) < MAX_REQUESTS:
            key = f"w{number}-{sent}-{time.monotonic_ns()}"
            sent += 1
            started = time.monotonic()
            try:
                answer = await client.post("/notes", params={"key": key})
            except httpx.TimeoutException:
                status: int | str = "client timeout"
                retry_after = None
            except httpx.TransportError as exc:
                status, retry_after = f"transport error: {exc!r}", None
            else:
                status, retry_after = answer.status_code, answer.headers.get("retry-after")
            load.outcomes.append(
                Outcome(key, started, time.monotonic() - started, status, retry_after)
            )
            # A client told to retry later waits a little (not Retry-After's 5 s: the test
            # must see the recovery): instant 503s would use up the request budget before
            # the service is back.
            await asyncio.sleep(0.1 if status == 503 else 0.01)


async def _under_load(
    base_url: str, inject: Callable[[], None], recover: Callable[[], None]
) -> tuple[Load, float, float]:
    """Run the load, inject the fault, recover; returns the load and the two moments."""
    load = Load()
    workers = [asyncio.create_task(_worker(base_url, n, load)) for n in range(WORKERS)]
    try:
        await asyncio.sleep(0.7)  # healthy traffic first
        faulted = time.monotonic()
        await asyncio.to_thread(inject)
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(recover)
        recovered = time.monotonic()
        deadline = recovered + RECOVERY_DEADLINE
        while not load.created_after(recovered) and time.monotonic() < deadline:
            if len(load.outcomes) >= MAX_REQUESTS:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
    finally:
        load.stop.set()
        await asyncio.gather(*workers)
    return load, faulted, recovered


async def _stored_keys(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.session() as session:
            return set((await session.execute(select(FaultNote.key))).scalars())
    finally:
        await db.dispose()


def _check(load: Load, faulted: float, recovered: float, stored: set[str]) -> None:
    outcomes = load.outcomes
    assert outcomes, "no request was made"
    assert load.statuses() <= {201, 503}, f"unexpected answers: {load.statuses() - {201, 503}}"
    assert all(o.retry_after for o in outcomes if o.status == 503), "a 503 without Retry-After"
    slowest = max(o.elapsed for o in outcomes)
    assert slowest < LONGEST_ANSWER, f"an answer took {slowest:.1f}s"
    during = [o for o in outcomes if faulted <= o.started < recovered]
    assert any(o.status == 503 for o in during), (
        f"the outage was never seen: {_timeline(load, faulted)}"
    )
    assert load.created_after(recovered), "the app did not recover without a restart"
    created = {o.key for o in outcomes if o.status == 201}
    lost = created - stored
    assert not lost, f"{len(lost)} writes answered 201 are not in the table"


def _timeline(load: Load, faulted: float) -> str:
    """Each answer as start(s after the fault)/took(s)/status, for a failure message."""
    return ", ".join(
        f"{o.started - faulted:+.2f}/{o.elapsed:.2f}/{o.status}"
        for o in load.outcomes
        if o.started > faulted - 1
    )[:3000]


# -- the servers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def served(postgres: PrivatePostgres, redis_server: PrivateRedis) -> Iterator[ServedApp]:
    asyncio.run(_create_table(postgres.url))
    with ServedApp(build_app(postgres.url, redis_server.url)) as app:
        yield app


async def _create_table(url: str) -> None:
    db = Database(url)
    try:
        await db.create_all(FaultNote)
    finally:
        await db.dispose()


def _scenario(
    served: ServedApp,
    postgres: PrivatePostgres,
    inject: Callable[[], None],
    recover: Callable[[], None],
) -> None:
    load, faulted, recovered = asyncio.run(_under_load(served.url, inject, recover))
    _check(load, faulted, recovered, asyncio.run(_stored_keys(postgres.url)))


def test_postgres_stopped_and_restarted(served: ServedApp, postgres: PrivatePostgres) -> None:
    # Fast shutdown (pg_ctl stop's default): sessions end with 57P01 "terminating connection
    # due to administrator command", new ones are refused, then "starting up" (57P03).
    _scenario(served, postgres, lambda: postgres.stop(signal.SIGINT), postgres.start)


def test_postgres_frozen_and_thawed(served: ServedApp, postgres: PrivatePostgres) -> None:
    _scenario(served, postgres, postgres.freeze, postgres.thaw)


def test_redis_stopped_and_restarted(
    served: ServedApp, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> None:
    _scenario(served, postgres, redis_server.stop, redis_server.start)


def test_redis_frozen_and_thawed(
    served: ServedApp, postgres: PrivatePostgres, redis_server: PrivateRedis
) -> None:
    _scenario(served, postgres, redis_server.freeze, redis_server.thaw)


# -- refusals at connection time ----------------------------------------------------------


def _one_app(url: str) -> App:
    app = App()
    use_database(app, url, connect_timeout=CONNECT_TIMEOUT, statement_timeout=STATEMENT_TIMEOUT)

    @app.get("/one")
    async def one(session: Session) -> int:
        return int((await session.execute(text("SELECT 1"))).scalar_one())

    return app


@pytest.mark.anyio
async def test_too_many_clients_answers_503(postgres: PrivatePostgres, served: ServedApp) -> None:
    import asyncpg

    held: list[asyncpg.Connection] = []
    try:
        for _ in range(postgres.max_connections + 5):  # until the server says "too many"
            try:
                held.append(
                    await asyncpg.connect(port=postgres.port, host="127.0.0.1", user="postgres")
                )
            except asyncpg.TooManyConnectionsError:
                break
        else:
            pytest.fail("the server never refused a connection")
        async with AsyncTestClient(_one_app(postgres.url)) as client:
            refused = await client.get("/one")
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            for connection in held:
                await connection.close()
            held.clear()
            assert (await client.get("/one")).json() == 1
    finally:
        for connection in held:
            await connection.close()


def test_a_server_not_yet_accepting_connections_answers_503(
    postgres: PrivatePostgres, served: ServedApp
) -> None:
    # A standby with hot_standby off refuses every connection with 57P03 ("the database
    # system is not yet accepting connections"), as a server that is still starting does.
    from prow.testing import TestClient

    postgres.stop(signal.SIGINT)
    standby = postgres.data / "standby.signal"
    standby.touch()
    try:
        postgres.start_refusing(["-c", "hot_standby=off"])
        with TestClient(_one_app(postgres.url)) as client:
            refused = client.get("/one")
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
    finally:
        postgres.stop(signal.SIGINT)
        standby.unlink()
        postgres.start()
