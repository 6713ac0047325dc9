"""Server-side stores: what they keep, for how long, and when they are asked at all."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest
import redis
import redis.asyncio

from _services import redis_url
from prow.db import Database, database
from prow.middleware import Middleware
from prow.sessions import (
    DatabaseStore,
    MemoryStore,
    RedisStore,
    SessionMiddleware,
    SessionRecord,
    SessionStore,
)
from prow.testing import TestClient
from sessions._helpers import cookie, make_app, shifted_clock


class CountingStore(MemoryStore):
    """A MemoryStore that counts how often it is read."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    async def load(self, session_id: str) -> str | None:
        self.loads += 1
        return await super().load(session_id)


def test_store_is_read_only_for_a_signed_cookie() -> None:
    store = CountingStore()
    with TestClient(make_app(store)) as client:
        client.get("/get")
        client.get("/get", headers=cookie("forged-id.AAAAAA.bad"))
        assert store.loads == 0
        client.post("/set", json={"user": "ada"})
        assert store.loads == 0
        client.get("/plain")
        assert store.loads == 1


def test_memory_store_forgets_expired_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    with shifted_clock(monkeypatch, -61):
        asyncio.run(store.save("old", "{}", 60))
    asyncio.run(store.save("new", "{}", 60))
    assert asyncio.run(store.load("old")) is None
    assert asyncio.run(store.load("new")) == "{}"
    assert len(store) == 1


def test_memory_store_sweeps_old_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    store.SWEEP_EVERY = 3
    with shifted_clock(monkeypatch, -100):
        asyncio.run(store.save("old", "{}", 10))
    asyncio.run(store.save("a", "{}", 10))
    assert len(store) == 2
    asyncio.run(store.save("b", "{}", 10))  # the third save sweeps
    assert len(store) == 2
    assert asyncio.run(store.load("old")) is None


def test_custom_store() -> None:
    class DictStore(SessionStore):
        def __init__(self) -> None:
            self.saved: dict[str, str] = {}

        async def load(self, session_id: str) -> str | None:
            return self.saved.get(session_id)

        async def save(self, session_id: str, payload: str, max_age: int) -> None:
            self.saved[session_id] = payload

        async def delete(self, session_id: str) -> None:
            self.saved.pop(session_id, None)

    store = DictStore()
    with TestClient(make_app(store)) as client:
        client.post("/set", json={"user": "ada"})
        assert list(store.saved.values()) == ['{"user":"ada"}']
        assert client.get("/get").json() == {"user": "ada"}
        client.post("/logout")
        assert store.saved == {}


def test_corrupt_stored_data_is_anonymous() -> None:
    store = MemoryStore()
    with TestClient(make_app(store)) as client:
        client.post("/set", json={"user": "ada"})
        for session_id in list(store._items):
            asyncio.run(store.save(session_id, "not json", 60))
        assert client.get("/get").json() == {}
        for session_id in list(store._items):
            asyncio.run(store.save(session_id, "[1, 2]", 60))
        assert client.get("/get").json() == {}


# -- Redis ------------------------------------------------------------------------------


def test_redis_keys_expire_with_the_session() -> None:
    url = redis_url()
    prefix = f"prow-test:{uuid.uuid4().hex}:"
    sync = redis.Redis.from_url(url)
    try:
        with TestClient(make_app(RedisStore(url, prefix=prefix), max_age=600)) as client:
            client.post("/set", json={"user": "ada"})
            keys = list(sync.scan_iter(prefix + "*"))
            assert len(keys) == 1
            assert 0 < sync.ttl(keys[0]) <= 600
            assert sync.get(keys[0]) == b'{"user":"ada"}'
            client.post("/logout")
            assert list(sync.scan_iter(prefix + "*")) == []
    finally:
        for key in sync.scan_iter(prefix + "*"):
            sync.delete(key)
        sync.close()


def test_redis_store_shared_by_two_apps() -> None:
    """Two workers (two apps) behind a load balancer see the same sessions."""
    url = redis_url()
    prefix = f"prow-test:{uuid.uuid4().hex}:"
    worker_a = make_app(RedisStore(url, prefix=prefix))
    worker_b = make_app(RedisStore(url, prefix=prefix))
    try:
        with TestClient(worker_a) as client:
            value = client.post("/set", json={"user": "ada"}).cookies["session"]
        with TestClient(worker_b) as client:
            assert client.get("/get", headers=cookie(value)).json() == {"user": "ada"}
    finally:
        sync = redis.Redis.from_url(url)
        for key in sync.scan_iter(prefix + "*"):
            sync.delete(key)
        sync.close()


def test_redis_store_with_a_client_of_your_own() -> None:
    url = redis_url()
    prefix = f"prow-test:{uuid.uuid4().hex}:"
    client = redis.asyncio.Redis.from_url(url)  # connects on first use, in the serving loop
    app = make_app(RedisStore(client, prefix=prefix))
    app.on_shutdown(client.aclose)  # yours to close
    try:
        with TestClient(app) as test_client:
            test_client.post("/set", json={"user": "ada"})
            assert test_client.get("/get").json() == {"user": "ada"}
    finally:
        sync = redis.Redis.from_url(url)
        for key in sync.scan_iter(prefix + "*"):
            sync.delete(key)
        sync.close()


def connections_named(name: str) -> int:
    """How many connections the Redis server has open under the client name ``name``."""
    sync = redis.Redis.from_url(redis_url())
    try:
        for _ in range(50):  # the server notices a closed socket on its next turn
            count = sum(1 for info in sync.client_list() if info["name"] == name)
            if count == 0:
                return 0
            time.sleep(0.02)
        return count
    finally:
        sync.close()


def test_redis_store_serves_successive_event_loops() -> None:
    """A redis.asyncio connection belongs to its loop; the store gives each loop its own."""
    url = redis_url()
    prefix = f"prow-test:{uuid.uuid4().hex}:"
    store = RedisStore(url, prefix=prefix)
    app = make_app(store)
    try:
        asyncio.run(store.save("direct", '{"a":1}', 60))
        assert asyncio.run(store.load("direct")) == '{"a":1}'
        with TestClient(app) as client:  # a loop of its own; the store is closed at shutdown
            value = client.post("/set", json={"user": "ada"}).cookies["session"]
        with TestClient(app) as client:  # a new loop, the same store
            assert client.get("/get", headers=cookie(value)).json() == {"user": "ada"}
        client = TestClient(app)  # outside `with`: every request runs on a new loop
        assert client.get("/get", headers=cookie(value)).json() == {"user": "ada"}
        assert client.get("/get", headers=cookie(value)).json() == {"user": "ada"}
    finally:
        sync = redis.Redis.from_url(url)
        for key in sync.scan_iter(prefix + "*"):
            sync.delete(key)
        sync.close()


def test_redis_store_closes_only_the_clients_it_made() -> None:
    url = redis_url()
    prefix = f"prow-test:{uuid.uuid4().hex}:"
    made, own_name = f"prow-test-{uuid.uuid4().hex}", f"prow-test-{uuid.uuid4().hex}"
    store = RedisStore(f"{url}?client_name={made}", prefix=prefix)

    async def made_by_the_store() -> tuple[int, int]:
        await store.save("s", "{}", 60)
        before = connections_named(made)
        await store.aclose()
        return before, connections_named(made)

    async def of_your_own() -> tuple[int, str | None, int]:
        own = redis.asyncio.Redis.from_url(url, client_name=own_name)
        yours = RedisStore(own, prefix=prefix)
        await yours.save("s", "{}", 60)
        await yours.aclose()
        still_open = connections_named(own_name)
        value = await yours.load("s")  # and still works
        await own.aclose()
        return still_open, value, connections_named(own_name)

    try:
        assert asyncio.run(made_by_the_store()) == (1, 0)
        assert asyncio.run(made_by_the_store()) == (1, 0)  # usable again after closing
        assert asyncio.run(of_your_own()) == (1, "{}", 0)
    finally:
        sync = redis.Redis.from_url(url)
        for key in sync.scan_iter(prefix + "*"):
            sync.delete(key)
        sync.close()


# -- database ---------------------------------------------------------------------------


def test_database_store_uses_the_apps_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'app.sqlite3'}"
    app = make_app(DatabaseStore())
    app.database_url = url

    @app.on_startup
    async def create_tables() -> None:
        await database(app).create_all(SessionRecord)

    with TestClient(app) as client:
        client.post("/set", json={"user": "ada"})
        assert client.get("/get").json() == {"user": "ada"}
    assert database(app).url == url


def test_database_store_purges_expired_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'sessions.sqlite3'}")
    store = DatabaseStore(db)

    async def scenario() -> tuple[int, int, str | None]:
        await db.create_all(SessionRecord)
        with shifted_clock(monkeypatch, -1000):
            await store.save("old", '{"a":1}', 60)
        await store.save("new", '{"a":2}', 60)
        old = await store.load("old")
        purged = await store.purge_expired()
        again = await store.purge_expired()
        fresh = await store.load("new")
        await db.dispose()
        assert old is None
        return purged, again, fresh

    assert asyncio.run(scenario()) == (1, 0, '{"a":2}')


def test_database_store_before_start_up_says_so() -> None:
    with pytest.raises(RuntimeError, match="has not started"):
        asyncio.run(DatabaseStore().load("x"))


def test_stores_are_imported_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys, prow.sessions; "
        "assert 'redis' not in sys.modules, 'redis'; "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_middleware_spec_repr() -> None:
    spec = Middleware(SessionMiddleware, store=MemoryStore(), cookie_name="sid")
    assert "SessionMiddleware" in repr(spec)
