"""``/healthz`` and ``/readyz``: there by default, 503 with Retry-After within the timeout."""

from __future__ import annotations

import os
import time

from _services import redis_url
from faults._private import free_port, private_redis
from prow import App
from prow.cache import Cache
from prow.db import Database
from prow.sessions import RedisSessionStore, Sessions
from prow.testing import TestClient

SECRET = "k3J9vQ2mX8pL5nR7tW1yZ4bC6dF0gH2jK8mN3qS5uV7w"


def test_every_app_answers_liveness_and_readiness() -> None:
    app = App()
    with TestClient(app) as client:
        live = client.get("/healthz")
        assert live.json() == {"status": "ok"}
        assert live.headers["cache-control"] == "no-store"
        assert client.head("/healthz").status_code == 200
        assert client.get("/readyz").json() == {"status": "ready", "checks": {}}
        assert "/healthz" not in app.openapi()["paths"]


def test_readiness_checks_the_database_and_redis() -> None:
    app = App(
        secret_key=SECRET,
        extensions=[
            Database(os.environ.get("PROW_TEST_POSTGRES_URL") or "sqlite:///:memory:"),
            Cache(redis_url(), namespace="readyz"),
            Sessions(RedisSessionStore(redis_url())),
        ],
    )
    with TestClient(app) as client:
        answer = client.get("/readyz")
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"] == {"Database": "ok", "Cache": "ok", "Sessions": "ok"}


def test_a_service_down_answers_503_with_retry_after() -> None:
    port = free_port()  # nothing listens there
    app = App(
        extensions=[
            Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/none"),
            Cache(f"redis://127.0.0.1:{port}/0"),
        ]
    )
    with TestClient(app) as client:
        started = time.monotonic()
        answer = client.get("/readyz")
        assert time.monotonic() - started < 2
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        body = answer.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["Cache"] == "ConnectionError"
        assert body["checks"]["Database"] != "ok"
        assert str(port) not in answer.text  # no message, no URL: only the error's class
        assert client.get("/healthz").status_code == 200  # alive all the same


def test_a_frozen_redis_is_a_timeout_not_a_hang() -> None:
    with private_redis() as server:
        app = App(extensions=[Cache(server.url, timeout=5)])
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            server.freeze()
            try:
                started = time.monotonic()
                answer = client.get("/readyz")
                assert time.monotonic() - started < 2
                assert answer.status_code == 503
                assert answer.json()["checks"]["Cache"] == "timeout after 1s"
            finally:
                server.thaw()
            assert client.get("/readyz").status_code == 200


def test_the_project_s_own_paths_win_and_the_routes_can_be_left_out() -> None:
    app = App(ready_url=None)

    @app.get("/healthz")
    async def mine() -> str:
        return "mine"

    with TestClient(app) as client:
        assert client.get("/healthz").json() == "mine"
        assert client.get("/readyz").status_code == 404
