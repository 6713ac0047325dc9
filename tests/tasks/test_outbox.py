"""A broker backend (not in the database): enqueue in a request goes through the outbox.

The broker here is a small in-memory ``Backend`` written against the public contract, as a
third-party backend would be; it can be "down" (``send`` raises) to show the relay catching up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from prow import App
from prow.db import Database, DBSession
from prow.tasks import Backend, Delivery, TaskInfo, TaskMessage, Tasks, task
from prow.testing import TestClient


class MemoryBroker(Backend):
    def __init__(self) -> None:
        self.messages: list[TaskMessage] = []
        self.down = False

    async def send(self, messages: Sequence[TaskMessage]) -> list[bool]:
        if self.down:
            raise ConnectionError("the broker is down")
        self.messages.extend(messages)
        return [True] * len(messages)

    async def claim(
        self, queues: Sequence[str], *, limit: int, lease: float, wait: float = 0.0
    ) -> list[Delivery]:
        return []

    async def claim_period(self, name: str, slot: datetime) -> bool:
        return True

    async def get(self, task_id: str) -> TaskInfo | None:
        return None


@task(name="tests.outbox.greet")
async def greet(name: str) -> None: ...


def make_app(tmp_path: Path, broker: MemoryBroker) -> tuple[App, Tasks]:
    tasks = Tasks(broker)
    app = App(extensions=[Database(f"sqlite:///{tmp_path / 'outbox.sqlite3'}"), tasks])

    @app.on_startup
    async def tables() -> None:
        await app.extension(Database).create_all(*tasks.tables())

    @app.post("/greet/{name}")
    async def post(name: str, db: DBSession, fail: bool = False) -> dict[str, str]:
        handle = await greet.enqueue(name)
        if fail:
            raise RuntimeError("rolled back")
        return {"id": handle.id}

    return app, tasks


def test_a_committed_request_reaches_the_broker_a_rolled_back_one_does_not(
    tmp_path: Path,
) -> None:
    broker = MemoryBroker()
    app, tasks = make_app(tmp_path, broker)
    with TestClient(app, raise_server_exceptions=False) as client:
        kept = client.post("/greet/ada").json()["id"]
        assert client.post("/greet/bob?fail=true").status_code == 500
        client.portal.call(tasks.relay)
        assert [m.id for m in broker.messages] == [kept]
        assert client.portal.call(tasks.relay) == 0  # sent once


def test_the_outbox_keeps_tasks_while_the_broker_is_down(tmp_path: Path) -> None:
    broker = MemoryBroker()
    broker.down = True
    app, tasks = make_app(tmp_path, broker)
    with TestClient(app) as client:
        for name in ("ada", "bob"):
            assert client.post(f"/greet/{name}").status_code == 200  # the request commits
        with pytest.raises(ConnectionError):
            client.portal.call(tasks.relay)
        assert broker.messages == []
        broker.down = False
        client.portal.call(tasks.relay)  # (or the relay loop, woken by the requests, did)
        assert client.portal.call(tasks.relay) == 0
    assert sorted(m.args for m in broker.messages) == ['{"name":"ada"}', '{"name":"bob"}']


def test_the_task_tables_are_migratable(tmp_path: Path) -> None:
    from prow.db import makemigrations

    models = MetaData()
    for table in Tasks().tables():
        table.to_metadata(models)
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    written = makemigrations("tasks", url=url, directory=tmp_path / "migrations", models=models)
    assert written is not None
    text = written.read_text()
    for name in ("prow_task", "prow_task_period", "prow_task_outbox"):
        assert f"'{name}'" in text or f'"{name}"' in text
