"""The ``Cache`` API, in memory and against the real Redis: values, TTLs, tags, stampedes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from _services import redis_url
from prow import App, ConfigurationError
from prow.cache import Cache, CachePolicy, Invalidates, MemoryBackend, RedisBackend
from prow.testing import TestClient

pytestmark = pytest.mark.anyio


def drop_namespace(namespace: str) -> None:
    client = redis.Redis.from_url(redis_url())
    keys = list(client.scan_iter(namespace + ":*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    namespace = f"test-{uuid.uuid4().hex}"
    if request.param == "memory":
        yield Cache(namespace=namespace)
        return
    made = Cache(redis_url(), namespace=namespace)
    yield made
    await made.backend.aclose()
    drop_namespace(namespace)


async def test_values_round_trip_as_json(cache: Cache) -> None:
    assert await cache.get("missing") is None
    assert await cache.get("missing", "fallback") == "fallback"
    await cache.set("user:1", {"name": "Ada", "roles": ["admin"]})
    assert await cache.get("user:1") == {"name": "Ada", "roles": ["admin"]}
    assert await cache.delete("user:1", "other") == 1
    assert await cache.get("user:1") is None


async def test_ttl_expires_entries(cache: Cache) -> None:
    await cache.set("short", 1, ttl=0.05)
    await cache.set("forever", 2, ttl=None)
    assert await cache.get("short") == 1
    await asyncio.sleep(0.12)
    assert await cache.get("short") is None
    assert await cache.get("forever") == 2


async def test_incr_counts_atomically_with_a_window(cache: Cache) -> None:
    results = await asyncio.gather(*(cache.incr("hits", ttl=0.2) for _ in range(20)))
    assert sorted(results) == list(range(1, 21))
    assert await cache.incr("hits", 5) == 25
    await asyncio.sleep(0.3)
    assert await cache.incr("hits") == 1  # the window started with the first hit, and ended


async def test_namespaces_keep_keys_apart(cache: Cache) -> None:
    users, posts = cache.namespace("users"), cache.namespace("posts")
    await users.set("1", "ada")
    await posts.set("1", "hello")
    assert (await users.get("1"), await posts.get("1")) == ("ada", "hello")
    assert await cache.get("users:1") == "ada"
    assert await users.namespace("admins").incr("n") == 1
    assert await cache.get("users:admins:n") == 1


async def test_invalidate_drops_every_entry_of_a_tag(cache: Cache) -> None:
    await cache.set("a", 1, tags=["items"])
    await cache.set("b", 2, tags=["items", "item:2"])
    await cache.set("c", 3, tags=["other"])
    assert await cache.invalidate("items") == 2
    assert [await cache.get(k) for k in "abc"] == [None, None, 3]
    assert await cache.invalidate("items") == 0


async def test_get_or_set_computes_once(cache: Cache) -> None:
    calls = 0

    async def slow() -> dict[str, int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.1)
        return {"value": 42}

    results = await asyncio.gather(*(cache.get_or_set("k", slow, ttl=5) for _ in range(10)))
    assert results == [{"value": 42}] * 10
    assert calls == 1
    assert await cache.get_or_set("k", lambda: {"value": 0}) == {"value": 42}


async def test_get_or_set_one_recompute_across_workers() -> None:
    """Two caches on one Redis stand for two workers: one computes, the other waits."""
    namespace = f"test-{uuid.uuid4().hex}"
    workers = [Cache(redis_url(), namespace=namespace) for _ in range(2)]
    calls = 0

    async def slow() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.2)
        return 7

    try:
        results = await asyncio.gather(
            *(workers[i % 2].get_or_set("report", slow) for i in range(10))
        )
        assert results == [7] * 10
        assert calls == 1
    finally:
        for worker in workers:
            await worker.backend.aclose()
        drop_namespace(namespace)


async def test_a_failed_computation_lets_the_next_caller_compute() -> None:
    cache = Cache(namespace="t")
    with pytest.raises(RuntimeError):
        await cache.get_or_set("k", _fail)
    assert await cache.get_or_set("k", lambda: 3) == 3


def _fail() -> int:
    raise RuntimeError("boom")


def test_memory_backend_keeps_at_most_max_entries() -> None:
    cache = Cache(MemoryBackend(max_entries=3), namespace="")

    async def run() -> list[object]:
        for i in range(5):
            await cache.set(str(i), i)
        return [await cache.get(str(i)) for i in range(5)]

    assert asyncio.run(run()) == [None, None, 2, 3, 4]


def test_configuration_mistakes_are_refused() -> None:
    cases = [
        (lambda: Cache(on_error="ignore"), "prow.E300"),  # type: ignore[arg-type]
        (lambda: Cache(timeout=0), "prow.E301"),
        (lambda: Cache("http://cache"), "prow.E302"),
        (lambda: Cache(backend=object()), "prow.E303"),  # type: ignore[arg-type]
        (lambda: CachePolicy(-1), "prow.E304"),
        (lambda: CachePolicy(5, per_user=True, shared=True), "prow.E305"),
        (Invalidates, "prow.E306"),
    ]
    for make, code in cases:
        with pytest.raises(ConfigurationError) as caught:
            make()
        assert caught.value.code == code


def test_cache_option_of_the_wrong_kind_fails_at_start_up() -> None:
    app = App()

    @app.get("/x", cache="a minute")
    async def x() -> str:
        return "x"

    with pytest.raises(ConfigurationError) as caught:
        app.build()
    assert caught.value.code == "prow.E304"


def test_handlers_receive_the_cache_by_type() -> None:
    app = App(extensions=[Cache(namespace=f"t{uuid.uuid4().hex}")])

    @app.get("/visits")
    async def visits(cache: Cache) -> dict[str, int]:
        return {"visits": await cache.incr("visits")}

    with TestClient(app) as client:
        assert [client.get("/visits").json()["visits"] for _ in range(3)] == [1, 2, 3]
        assert "parameters" not in app.openapi()["paths"]["/visits"]["get"]


def test_redis_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROW_CACHE_URL", redis_url())
    assert isinstance(Cache().backend, RedisBackend)
    monkeypatch.delenv("PROW_CACHE_URL")
    assert isinstance(Cache().backend, MemoryBackend)
