"""RedisStore against the real Redis: shared counts across apps (workers), outages."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import redis.asyncio

from _services import redis_url
from prow import App
from prow.ratelimit import RateLimits, RedisStore, parse_rate, rate_limit
from prow.testing import TestClient


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    url = redis_url()
    value = f"prow:rl:test:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(value + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def make_app(store: RedisStore) -> App:
    """One "worker": the same code builds each app, so the limits get the same names."""
    app = App()
    app.install(RateLimits(store))

    @app.get("/x", dependencies=[rate_limit("3/minute")])
    async def x() -> None:
        return None

    return app


def test_two_apps_share_counts_through_redis(prefix: str) -> None:
    url = redis_url()
    first = make_app(RedisStore(url, prefix=prefix))
    second = make_app(RedisStore(url, prefix=prefix))
    with TestClient(first) as one, TestClient(second) as two:
        codes = [one.get("/x").status_code, two.get("/x").status_code]
        codes += [one.get("/x").status_code, two.get("/x").status_code]
        assert codes == [200, 200, 200, 429]
        refused = one.get("/x")
    assert refused.status_code == 429
    assert refused.json()["detail"] == "Rate limit exceeded: 3 per 1 minute"
    assert 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.headers["ratelimit-remaining"] == "0"


def test_window_refills_with_an_injected_clock(prefix: str) -> None:
    now = [1_700_000_000.0]
    clock: Callable[[], float] = lambda: now[0]  # noqa: E731
    app = make_app(RedisStore(redis_url(), prefix=prefix, clock=clock))
    with TestClient(app) as client:
        assert [client.get("/x").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert client.get("/x").headers["retry-after"] == "20"
        now[0] += 20
        assert [client.get("/x").status_code for _ in range(2)] == [200, 429]
        now[0] += 60
        assert [client.get("/x").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_keys_expire_in_redis(prefix: str) -> None:
    url = redis_url()
    app = make_app(RedisStore(url, prefix=prefix))
    with TestClient(app) as client:
        client.get("/x")
    raw = redis.Redis.from_url(url)
    keys = list(raw.scan_iter(prefix + "*"))
    assert len(keys) == 1
    assert keys[0].decode().endswith(":ip:testclient")
    assert 0 < raw.pttl(keys[0]) <= 20_000
    raw.close()


def test_unreachable_redis_fails_open_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(RedisStore("redis://127.0.0.1:1/0", timeout=0.5))
    with caplog.at_level(logging.WARNING, logger="prow.ratelimit"), TestClient(app) as client:
        assert [client.get("/x").status_code for _ in range(5)] == [200] * 5
    warnings = [r for r in caplog.records if r.name == "prow.ratelimit"]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()
    assert "fail open" in warnings[0].getMessage()


def test_unreachable_redis_can_fail_closed_with_503() -> None:
    app = make_app(RedisStore("redis://127.0.0.1:1/0", fail_open=False, timeout=0.5))
    with TestClient(app) as client:
        response = client.get("/x")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "Rate limiting is temporarily unavailable"


def test_store_accepts_an_existing_client(prefix: str) -> None:
    client = redis.asyncio.Redis.from_url(redis_url())
    app = make_app(RedisStore(client, prefix=prefix))
    with TestClient(app) as http:
        assert [http.get("/x").status_code for _ in range(4)] == [200, 200, 200, 429]


# -- event loops ---------------------------------------------------------------------------
# A redis.asyncio connection belongs to the event loop that opened it, and one app (or one
# store) may be used from several loops: a test client run twice, a server with a loop per
# thread. The store must work in each, against the same counts.

RATE = parse_rate("3/minute")


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


async def allowed(store: RedisStore, times: int, key: str = "k") -> list[bool]:
    return [(await store.hit(key, RATE)).allowed for _ in range(times)]


def test_one_store_serves_successive_event_loops(prefix: str) -> None:
    # fail_open=False: a connection of a closed loop would answer 503, not quietly allow.
    store = RedisStore(redis_url(), prefix=prefix, fail_open=False)
    assert asyncio.run(allowed(store, 2)) == [True, True]
    assert asyncio.run(allowed(store, 2)) == [True, False]  # the same count, kept in Redis

    async def reset_and_count() -> list[bool]:
        await store.reset("k")
        result = await allowed(store, 4)
        await store.aclose()
        return result

    assert asyncio.run(reset_and_count()) == [True, True, True, False]


def test_one_app_served_by_successive_test_clients(prefix: str) -> None:
    app = make_app(RedisStore(redis_url(), prefix=prefix, fail_open=False))
    with TestClient(app) as client:  # a loop of its own; the store is closed at shutdown
        codes = [client.get("/x").status_code]
    with TestClient(app) as client:  # a new loop, the same store, the same count
        codes += [client.get("/x").status_code]
    client = TestClient(app)  # outside `with`: every request runs on a new loop
    codes += [client.get("/x").status_code, client.get("/x").status_code]
    assert codes == [200, 200, 200, 429]


def test_one_store_serves_two_loops_at_once(prefix: str) -> None:
    """Two threads, each with its own running loop, share the store and its limit."""
    store = RedisStore(redis_url(), prefix=prefix, fail_open=False)
    barrier = threading.Barrier(2)
    results: list[list[bool]] = []

    async def worker() -> list[bool]:
        barrier.wait()  # both loops are running before either touches the store
        try:
            return await allowed(store, 3)
        finally:
            await store.aclose()  # each loop closes the client it was given

    def thread_main() -> None:
        results.append(asyncio.run(worker()))

    threads = [threading.Thread(target=thread_main) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 2
    assert sorted(results[0] + results[1]) == [False] * 3 + [True] * 3


def test_closing_closes_the_clients_the_store_made(prefix: str) -> None:
    name = f"prow-test-{uuid.uuid4().hex}"
    store = RedisStore(f"{redis_url()}?client_name={name}", prefix=prefix, fail_open=False)

    async def use_then_close() -> tuple[int, int]:
        await store.hit("k", RATE)
        before = connections_named(name)
        await store.aclose()
        return before, connections_named(name)

    assert asyncio.run(use_then_close()) == (1, 0)
    assert asyncio.run(use_then_close()) == (1, 0)  # usable again after closing


def test_closing_leaves_a_client_of_your_own_open(prefix: str) -> None:
    name = f"prow-test-{uuid.uuid4().hex}"

    async def scenario() -> tuple[int, list[bool], int]:
        own = redis.asyncio.Redis.from_url(redis_url(), client_name=name)
        store = RedisStore(own, prefix=prefix, fail_open=False)
        await store.hit("k", RATE)
        await store.aclose()
        still_open = connections_named(name)
        after = await allowed(store, 3)  # and still works
        await own.aclose()
        return still_open, after, connections_named(name)

    assert asyncio.run(scenario()) == (1, [True, True, False], 0)


def test_script_survives_a_server_that_forgot_it(prefix: str) -> None:
    """A restarted or flushed server no longer caches the Lua script; the store resends it."""
    store = RedisStore(redis_url(), prefix=prefix, fail_open=False)

    async def scenario() -> list[bool]:
        first = await allowed(store, 1)
        await store.client.script_flush()
        rest = await allowed(store, 3)
        await store.aclose()
        return first + rest

    assert asyncio.run(scenario()) == [True, True, True, False]
