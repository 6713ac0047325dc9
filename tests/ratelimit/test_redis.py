"""RedisStore against the real Redis: shared counts across apps (workers), outages."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from _services import redis_url
from prow import App
from prow.ratelimit import RedisStore, rate_limit, use_rate_limit_store
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
    use_rate_limit_store(app, store)

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
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url())
    app = make_app(RedisStore(client, prefix=prefix))
    with TestClient(app) as http:
        assert [http.get("/x").status_code for _ in range(4)] == [200, 200, 200, 429]
