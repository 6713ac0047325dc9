"""A session store that is down or frozen answers 503 with Retry-After, never 500 or a hang.

The cookie comes from an app of the same secret key whose store works (a ``MemoryStore``):
a validly signed session id, which the app under test must then look up in its broken store.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from prow.db import Database
from prow.sessions import DatabaseStore, MemoryStore, RedisStore, SessionStore
from prow.testing import TestClient
from sessions._helpers import make_app


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once closed


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a frozen server, as clients see it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def session_cookie() -> str:
    with TestClient(make_app(MemoryStore())) as client:
        assert client.post("/set", json={"user": "ada"}).status_code == 200
        return client.cookies["session"]


def _assert_unavailable(answer: object) -> None:
    import httpx

    assert isinstance(answer, httpx.Response)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "The session store is unavailable; try again shortly."


def _down_stores(tmp_path: Path) -> dict[str, SessionStore]:
    return {
        "redis": RedisStore(f"redis://127.0.0.1:{_closed_port()}/0", timeout=1),
        "database": DatabaseStore(Database(f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}")),
    }


@pytest.mark.parametrize("kind", ["redis", "database"])
def test_a_store_that_is_down_answers_503_to_requests_with_a_session(
    kind: str, session_cookie: str, tmp_path: Path
) -> None:
    store = _down_stores(tmp_path)[kind]
    with TestClient(make_app(store), raise_server_exceptions=False) as client:
        client.cookies.set("session", session_cookie)
        _assert_unavailable(client.get("/get"))
        _assert_unavailable(client.post("/set", json={"more": 1}))
        client.cookies.clear()
        # Without a session cookie the store is never read: anonymous pages keep working...
        assert client.get("/plain").json() == "no session here"
        # ...but a new session cannot be kept, and the client is not told it was.
        created = client.post("/set", json={"user": "bob"})
        _assert_unavailable(created)
        assert "set-cookie" not in created.headers


def test_a_frozen_redis_answers_503_within_the_timeout(
    silent_port: int, session_cookie: str
) -> None:
    store = RedisStore(f"redis://127.0.0.1:{silent_port}/0", timeout=0.5)
    with TestClient(make_app(store)) as client:
        client.cookies.set("session", session_cookie)
        started = time.monotonic()
        _assert_unavailable(client.get("/get"))
        first = time.monotonic() - started
        assert first < 3, f"answered after {first:.1f}s, past the 0.5s timeout"
        # Right after a failure the store does not wait again for each request.
        started = time.monotonic()
        _assert_unavailable(client.get("/get"))
        assert time.monotonic() - started < 0.4


@pytest.mark.anyio
async def test_redis_store_has_timeouts_by_default() -> None:
    # A frozen Redis must not hold requests forever when the user set no timeout.
    store = RedisStore("redis://127.0.0.1:6379/0")
    options = store.client.connection_pool.connection_kwargs
    assert options["socket_timeout"] == 5.0
    assert options["socket_connect_timeout"] == 5.0
    await store.aclose()
