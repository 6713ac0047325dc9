"""Channels over HTTP: SSE with Last-Event-ID, websockets, and a backend outage (real servers)."""

from __future__ import annotations

import contextlib
import json
import signal
import time

import httpx
import pytest
from websockets.sync.client import connect

from channels._helpers import BACKENDS, backend_url, fresh_channel, make_app, open_sse
from faults._private import ServedApp, private_postgres, private_redis


@pytest.mark.parametrize("kind", BACKENDS)
def test_sse_and_websocket_clients_receive_a_published_message(kind: str) -> None:
    room = fresh_channel("r").replace(":", "-")
    with (
        ServedApp(make_app(backend_url(kind))) as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
    ):
        ws_url = server.url.replace("http", "ws") + f"/rooms/{room}/ws"
        with open_sse(client, f"/rooms/{room}/events") as sse, connect(ws_url) as ws:
            sent = client.post(f"/rooms/{room}", json={"text": "hi"})
            assert sent.status_code == 202
            event = sse.next()
            assert event == {"id": sent.json()["id"], "data": '{"text":"hi"}'}
            got = json.loads(ws.recv(timeout=5))
            assert got == {"channel": f"room:{room}", "id": event["id"], "data": {"text": "hi"}}


@pytest.mark.parametrize("kind", BACKENDS)
def test_an_sse_client_reconnecting_with_last_event_id_gets_what_it_missed(kind: str) -> None:
    room = fresh_channel("r").replace(":", "-")
    with (
        ServedApp(make_app(backend_url(kind))) as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
    ):
        with open_sse(client, f"/rooms/{room}/events") as sse:
            client.post(f"/rooms/{room}", json={"n": 1})
            last = sse.next()["id"]
        for n in (2, 3):  # published while the client is away
            client.post(f"/rooms/{room}", json={"n": n})
        with open_sse(client, f"/rooms/{room}/events", last_event_id=last) as sse:
            client.post(f"/rooms/{room}", json={"n": 4})
            assert [json.loads(sse.next()["data"])["n"] for _ in range(3)] == [2, 3, 4]


def test_bad_input_is_a_4xx() -> None:
    with (
        ServedApp(make_app("memory://")) as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
    ):
        response = client.get("/rooms/x/events", headers={"Last-Event-ID": "not-an-id"})
        assert response.status_code == 400
        assert "not a message id" in response.json()["detail"]


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_backend_down_publish_is_503_and_subscribers_reconnect_and_replay(kind: str) -> None:
    room = "outage"
    private = private_redis() if kind == "redis" else private_postgres()
    with (
        private as server,
        ServedApp(make_app(server.url)) as served,
        httpx.Client(base_url=served.url, timeout=10) as client,
        open_sse(client, f"/rooms/{room}/events") as sse,
        contextlib.ExitStack() as later,
    ):
        client.post(f"/rooms/{room}", json={"n": 1})
        assert json.loads(sse.next()["data"]) == {"n": 1}
        # A second client that has received nothing yet when the backend goes away.
        quiet = later.enter_context(open_sse(client, f"/rooms/{room}/events"))

        server.stop(signal.SIGINT)  # PostgreSQL: "fast" shutdown, clients cut off
        started = time.monotonic()
        refused = client.post(f"/rooms/{room}", json={"n": 2})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert time.monotonic() - started < 2.5
        assert client.get(f"/rooms/{room}/events").status_code == 503  # a new subscriber
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["Channels"] != "ok"

        server.start()  # Redis comes back empty (no persistence), PostgreSQL with its rows
        deadline = time.monotonic() + 15
        while client.post(f"/rooms/{room}", json={"n": 3}).status_code != 202:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        client.post(f"/rooms/{room}", json={"n": 4})
        assert client.get("/readyz").json()["checks"]["Channels"] == "ok"
        # The running subscriber reconnected: each message reached it once, in order, live
        # or replayed from history (whichever came first).
        assert [json.loads(sse.next()["data"])["n"] for _ in range(2)] == [3, 4]
        assert [json.loads(quiet.next()["data"])["n"] for _ in range(2)] == [3, 4]
