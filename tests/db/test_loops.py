"""One app, one engine: test clients share the app's event loop, and a loop that ended
(``asyncio.run`` before serving) leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from sqlalchemy import text

from prow import App
from prow.db import Database, Session
from prow.testing import TestClient


def _app(database_url: str) -> tuple[App, Database]:
    db = Database(database_url)
    app = App(extensions=[db])

    @app.get("/one")
    async def one(session: Session) -> int:
        value: int = (await session.execute(text("SELECT 1"))).scalar_one()
        return value

    return app, db


def test_two_clients_taking_turns_share_one_engine_and_leak_nothing(database_url: str) -> None:
    app, db = _app(database_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with TestClient(app) as first, TestClient(app) as second:
            for _ in range(3):
                assert first.get("/one").json() == 1
                assert second.get("/one").json() == 1
            engine = db.engine
            assert first.get("/one").json() == 1
            assert db.engine is engine  # the same pool served both clients
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_a_client_without_with_keeps_one_loop_until_closed(database_url: str) -> None:
    app, db = _app(database_url)
    client = TestClient(app)
    assert client.get("/one").json() == 1
    engine = db.engine
    assert client.get("/one").json() == 1
    assert db.engine is engine
    client.close()


def test_an_engine_from_an_ended_loop_is_replaced(database_url: str) -> None:
    if database_url.startswith("mysql"):
        # aiomysql's connections raise from __del__ once their loop is closed, whatever
        # closes them: a script on MariaDB awaits db.dispose() before its loop ends.
        pytest.skip("aiomysql connections cannot be closed after their event loop ended")
    app, db = _app(database_url)

    async def touch() -> None:
        async with db.session() as session:
            await session.execute(text("SELECT 1"))

    asyncio.run(touch())  # a setup script: its loop (and the pool's loop) ends here
    stale = db.engine
    with TestClient(app) as client:
        assert client.get("/one").json() == 1
        assert db.engine is not stale
