"""One app served from two event loops in turn (two test clients) keeps one pool per loop."""

from __future__ import annotations

import gc
import warnings

from sqlalchemy import text

from prow import App
from prow.db import Session, database, use_database
from prow.testing import TestClient


def test_two_clients_taking_turns_share_nothing_and_leak_nothing(database_url: str) -> None:
    app = App()
    use_database(app, database_url)

    @app.get("/one")
    async def one(session: Session) -> int:
        value: int = (await session.execute(text("SELECT 1"))).scalar_one()
        return value

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with TestClient(app) as first, TestClient(app) as second:
            for _ in range(3):
                assert first.get("/one").json() == 1
                assert second.get("/one").json() == 1
        gc.collect()
    assert database(app)._by_loop == {}  # every loop's engine was closed with its loop
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []
