from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from prow.responses import EventSourceResponse, ServerSentEvent
from prow.types import Message, Receive, Scope, Send

HTTP_SCOPE: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}


async def never_disconnects() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


def test_encode_every_field() -> None:
    event = ServerSentEvent(
        data="a\nb\r\nc\rd", event="update", id="7", retry=3000, comment="hi\nthere"
    )
    assert event.encode() == (
        b": hi\n: there\nid: 7\nevent: update\nretry: 3000\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    )


def test_encode_json_data_and_comment_only() -> None:
    assert ServerSentEvent({"n": 1, "s": "é"}).encode() == 'data: {"n":1,"s":"é"}\n\n'.encode()
    assert ServerSentEvent([1, 2]).encode() == b"data: [1,2]\n\n"
    assert ServerSentEvent(comment="keep").encode() == b": keep\n\n"
    assert ServerSentEvent("").encode() == b"data: \n\n"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_encode_dataclass_through_pydantic_core() -> None:
    assert ServerSentEvent(Point(1, 2)).encode() == b'data: {"x":1,"y":2}\n\n'


@pytest.mark.parametrize(
    "kwargs",
    [
        {"id": "1\n2"},
        {"id": "1\r"},
        {"id": "a\0b"},
        {"event": "x\ndata: injected"},
        {"retry": -1},
        {"retry": 1.5},
    ],
)
def test_invalid_fields_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SSE"):
        ServerSentEvent("x", **kwargs)


def test_bad_ping_interval() -> None:
    with pytest.raises(ValueError, match="ping_interval"):
        EventSourceResponse([], ping_interval=0)


@pytest.mark.anyio
async def test_stream_over_http_with_headers() -> None:
    async def events() -> AsyncIterator[Any]:
        yield "plain"
        yield {"user": "ann"}
        yield ServerSentEvent("multi\nline", event="note", id="42")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await EventSourceResponse(events(), headers={"x-extra": "1"})(scope, receive, send)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["x-extra"] == "1"
    assert "content-length" not in response.headers
    assert response.text == (
        'data: plain\n\ndata: {"user":"ann"}\n\nid: 42\nevent: note\ndata: multi\ndata: line\n\n'
    )


def test_user_headers_override_defaults() -> None:
    response = EventSourceResponse([], headers={"cache-control": "no-store"})
    assert response.headers.getlist("cache-control") == ["no-store"]


async def _collect(response: EventSourceResponse, receive: Receive = never_disconnects) -> bytes:
    body: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            body.append(message["body"])

    with anyio.fail_after(3):
        await response(HTTP_SCOPE, receive, send)
    return b"".join(body)


@pytest.mark.anyio
async def test_sync_iterable() -> None:
    body = await _collect(EventSourceResponse(iter(["a", "b"]), ping_interval=None))
    assert body == b"data: a\n\ndata: b\n\n"


@pytest.mark.anyio
async def test_ping_while_idle() -> None:
    async def slow() -> AsyncIterator[str]:
        yield "first"
        await anyio.sleep(0.3)
        yield "second"

    body = await _collect(EventSourceResponse(slow(), ping_interval=0.05))
    assert body.startswith(b"data: first\n\n: ping\n\n")
    before, after = body.split(b"data: second\n\n")
    assert before.endswith(b": ping\n\n") and before.count(b": ping\n\n") >= 2
    # A ping due just as "second" was sent may still go out before the stream ends.
    assert after in (b"", b": ping\n\n")


@pytest.mark.anyio
async def test_no_ping_when_disabled_or_busy() -> None:
    async def slow() -> AsyncIterator[str]:
        yield "first"
        await anyio.sleep(0.1)
        yield "second"

    disabled = await _collect(EventSourceResponse(slow(), ping_interval=None))
    assert disabled == b"data: first\n\ndata: second\n\n"

    async def quick() -> AsyncIterator[str]:
        for i in range(3):
            yield str(i)

    busy = await _collect(EventSourceResponse(quick(), ping_interval=10))
    assert b"ping" not in busy


@pytest.mark.anyio
async def test_stops_on_disconnect() -> None:
    closed = anyio.Event()
    first_sent = anyio.Event()

    async def endless() -> AsyncIterator[str]:
        try:
            while True:
                yield "tick"
                first_sent.set()
                await anyio.sleep(0.01)
        finally:
            closed.set()

    async def receive() -> Message:
        await first_sent.wait()
        return {"type": "http.disconnect"}

    body = await _collect(EventSourceResponse(endless(), ping_interval=0.01), receive)
    assert closed.is_set()
    assert body.startswith(b"data: tick\n\n")
