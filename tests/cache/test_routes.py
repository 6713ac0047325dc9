"""Per-route response caching: what varies, what is never kept, ETags, tags, Redis outages."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Annotated

import httpx
import pytest
import redis

from _services import redis_url
from faults._private import free_port, private_redis
from prow import App, Header, Request, Response
from prow.cache import Cache, CachePolicy, Invalidates
from prow.testing import TestClient


@pytest.fixture
def namespace() -> Iterator[str]:
    value = f"test-{uuid.uuid4().hex}"
    yield value
    client = redis.Redis.from_url(redis_url())
    keys = list(client.scan_iter(value + ":*"))
    if keys:
        client.delete(*keys)
    client.close()


def make_app(cache: Cache, counter: dict[str, int]) -> App:
    """One "worker": the same code, so routes get the same names and cache keys."""
    app = App(extensions=[cache])

    @app.get("/items", cache=CachePolicy(60, tags=("items",)))
    async def items(q: str = "") -> dict[str, object]:
        counter["items"] = counter.get("items", 0) + 1
        return {"calls": counter["items"], "q": q}

    @app.get("/items/{item_id}", cache=CachePolicy(60, tags=("item:{item_id}",)))
    async def item(item_id: int) -> dict[str, int]:
        counter["item"] = counter.get("item", 0) + 1
        return {"id": item_id, "calls": counter["item"]}

    @app.post("/items", cache=Invalidates("items"))
    async def add_item() -> dict[str, bool]:
        return {"added": True}

    @app.patch("/items/{item_id}", cache=Invalidates("items", "item:{item_id}"))
    async def change_item(item_id: int) -> dict[str, bool]:
        return {"changed": True}

    return app


def test_answers_are_kept_and_vary_on_query_and_accept() -> None:
    counter: dict[str, int] = {}
    app = make_app(Cache(namespace=uuid.uuid4().hex), counter)
    with TestClient(app) as client:
        first = client.get("/items?q=a&page=2")
        assert first.headers["x-cache"] == "MISS"
        again = client.get("/items?page=2&q=a")  # the same query in another order
        assert again.headers["x-cache"] == "HIT"
        assert again.json() == first.json() == {"calls": 1, "q": "a"}
        assert again.headers["etag"] == first.headers["etag"]
        assert again.headers["vary"] == "Accept"
        assert client.get("/items?q=b").json()["calls"] == 2
        assert client.get("/items?q=a&page=2", headers={"Accept": "text/html"}).json()["calls"] == 3
        head = client.head("/items?q=a&page=2")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["x-cache"] == "HIT"


def test_if_none_match_gets_304() -> None:
    app = make_app(Cache(namespace=uuid.uuid4().hex), {})
    with TestClient(app) as client:
        etag = client.get("/items").headers["etag"]
        cached = client.get("/items", headers={"If-None-Match": f'"other", {etag}'})
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == etag
        weak = client.get("/items", headers={"If-None-Match": "W/" + etag})
        assert weak.status_code == 304
        assert client.get("/items", headers={"If-None-Match": '"old"'}).status_code == 200


def test_cache_zero_hashes_every_answer_without_keeping_it() -> None:
    app = App()
    calls = 0

    @app.get("/report", cache=0)
    async def report() -> dict[str, str]:
        nonlocal calls
        calls += 1
        return {"status": "green"}

    with TestClient(app) as client:
        etag = client.get("/report").headers["etag"]
        assert client.get("/report", headers={"If-None-Match": etag}).status_code == 304
        assert calls == 2  # computed each time, answered 304 when unchanged


def test_tags_invalidate_lists_and_one_item() -> None:
    counter: dict[str, int] = {}
    app = make_app(Cache(namespace=uuid.uuid4().hex), counter)
    with TestClient(app) as client:
        client.get("/items")
        client.get("/items/1")
        client.get("/items/2")
        assert client.post("/items").status_code == 200
        assert client.get("/items").headers["x-cache"] == "MISS"
        assert client.get("/items/1").headers["x-cache"] == "HIT"
        client.patch("/items/1")
        assert client.get("/items/1").headers["x-cache"] == "MISS"
        assert client.get("/items/2").headers["x-cache"] == "HIT"


def test_credentials_bypass_routes_that_read_them() -> None:
    app = App(extensions=[Cache(namespace=uuid.uuid4().hex)])
    calls = {"me": 0, "open": 0, "per_user": 0}

    @app.get("/me", cache=60)
    async def me(authorization: Annotated[str, Header()] = "") -> dict[str, str]:
        calls["me"] += 1
        return {"who": authorization}

    @app.get("/open", cache=60)
    async def open_page() -> dict[str, str]:
        calls["open"] += 1
        return {"page": "same for all"}

    @app.get("/mine", cache=CachePolicy(60, per_user=True))
    async def mine(request: Request) -> dict[str, str]:
        calls["per_user"] += 1
        return {"who": request.headers.get("authorization", "")}

    with TestClient(app) as client:
        alice, bob = {"Authorization": "Bearer alice"}, {"Authorization": "Bearer bob"}
        assert client.get("/me", headers=alice).json() == {"who": "Bearer alice"}
        assert client.get("/me", headers=bob).json() == {"who": "Bearer bob"}
        assert calls["me"] == 2  # never shared
        client.get("/me")
        client.get("/me")
        assert calls["me"] == 3  # without credentials it is cached
        client.get("/open", headers=alice)
        client.get("/open", headers=bob)
        assert calls["open"] == 1  # a route blind to credentials is shared
        assert client.get("/mine", headers=alice).json() == {"who": "Bearer alice"}
        assert client.get("/mine", headers=bob).json() == {"who": "Bearer bob"}
        assert client.get("/mine", headers=alice).headers["x-cache"] == "HIT"
        assert calls["per_user"] == 2
        assert "Authorization" in client.get("/mine", headers=bob).headers["vary"]


def test_answers_that_set_cookies_or_fail_are_never_kept() -> None:
    app = App(extensions=[Cache(namespace=uuid.uuid4().hex)])
    calls = {"cookie": 0, "missing": 0, "private": 0}

    @app.get("/cookie", cache=60)
    async def cookie(response: Response) -> str:
        calls["cookie"] += 1
        response.set_cookie("seen", "1")
        return "hi"

    @app.get("/missing", cache=60)
    async def missing(response: Response) -> str:
        calls["missing"] += 1
        response.status_code = 404
        return "no"

    @app.get("/private", cache=60)
    async def private(response: Response) -> str:
        calls["private"] += 1
        response.headers["Cache-Control"] = "private, max-age=5"
        return "mine"

    with TestClient(app) as client:
        for path in ("/cookie", "/missing", "/private"):
            client.get(path)
            assert client.get(path).headers["x-cache"] == "MISS"
        assert calls == {"cookie": 2, "missing": 2, "private": 2}


def test_workers_share_entries_and_invalidations_through_redis(namespace: str) -> None:
    counters: list[dict[str, int]] = [{}, {}]
    apps = [make_app(Cache(redis_url(), namespace=namespace), c) for c in counters]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        assert one.get("/items").headers["x-cache"] == "MISS"
        assert two.get("/items").headers["x-cache"] == "HIT"
        two.post("/items")  # worker two writes: worker one's next read recomputes
        assert one.get("/items").json()["calls"] == 2
        assert counters == [{"items": 2}, {}]


def test_one_recompute_per_key_across_workers(namespace: str) -> None:
    calls = 0

    def worker() -> App:
        app = App(extensions=[Cache(redis_url(), namespace=namespace)])

        @app.get("/slow", cache=60)
        async def slow() -> dict[str, int]:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.3)
            return {"calls": calls}

        return app

    apps = [worker(), worker()]

    async def run() -> list[int]:
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            for app in apps
        ]
        try:
            answers = await asyncio.gather(*(clients[i % 2].get("/slow") for i in range(8)))
        finally:
            for client in clients:
                await client.aclose()
            for app in apps:
                await app.release()
        return [a.json()["calls"] for a in answers]

    assert asyncio.run(run()) == [1] * 8
    assert calls == 1


def _outage_app(url: str, on_error: str, counter: dict[str, int]) -> App:
    return make_app(Cache(url, namespace="t", on_error=on_error, timeout=0.3), counter)  # type: ignore[arg-type]


def test_redis_down_goes_on_uncached() -> None:
    counter: dict[str, int] = {}
    app = _outage_app(f"redis://127.0.0.1:{free_port()}/0", "bypass", counter)
    with TestClient(app) as client:
        started = time.monotonic()
        answers = [client.get("/items") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert counter["items"] == 3
        assert client.post("/items").status_code == 200  # the write is not refused
        assert time.monotonic() - started < 3


def test_redis_down_can_answer_503_with_retry_after() -> None:
    app = _outage_app(f"redis://127.0.0.1:{free_port()}/0", "fail", {})
    with TestClient(app) as client:
        answer = client.get("/items")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_frozen_redis_costs_at_most_the_timeout_and_recovers() -> None:
    with private_redis() as server:
        counter: dict[str, int] = {}
        app = _outage_app(server.url, "bypass", counter)
        with TestClient(app) as client:
            assert client.get("/items").headers["x-cache"] == "MISS"
            assert client.get("/items").headers["x-cache"] == "HIT"
            server.freeze()
            try:
                started = time.monotonic()
                frozen = client.get("/items")
                assert frozen.status_code == 200
                assert time.monotonic() - started < 2.5
            finally:
                server.thaw()
            time.sleep(1.1)  # the back-off after a failure
            client.get("/items")
            assert client.get("/items").headers["x-cache"] == "HIT"
