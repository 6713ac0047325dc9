from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import anyio.lowlevel
import httpx
import pytest

from prow.background import BackgroundTask
from prow.responses import Response, StreamingResponse
from prow.types import Message, Receive, Scope, Send

HTTP_SCOPE: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}


def client_for(make: Callable[[], Response]) -> httpx.AsyncClient:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await make()(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def never_disconnects() -> Message:
    await anyio.sleep_forever()
    raise AssertionError("unreachable")


@pytest.mark.anyio
async def test_sync_generator() -> None:
    def numbers() -> Iterator[str]:
        yield "one,"
        yield "two,"
        yield "three"

    async with client_for(lambda: StreamingResponse(numbers(), media_type="text/csv")) as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert response.text == "one,two,three"
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-length" not in response.headers


@pytest.mark.anyio
async def test_async_generator_mixing_str_and_bytes() -> None:
    async def chunks() -> AsyncIterator[str | bytes]:
        yield b"\x00\x01"
        await anyio.lowlevel.checkpoint()
        yield "é"

    async with client_for(lambda: StreamingResponse(chunks(), status_code=201)) as client:
        response = await client.get("/")
    assert response.status_code == 201
    assert response.content == b"\x00\x01" + "é".encode()


@pytest.mark.anyio
async def test_plain_list_and_message_framing() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await StreamingResponse([b"a", b"b"])(HTTP_SCOPE, never_disconnects, send)
    assert sent[0]["type"] == "http.response.start"
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (b"a", True),
        (b"b", True),
        (b"", False),
    ]


@pytest.mark.anyio
async def test_sync_iterator_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    def chunks() -> Iterator[bytes]:
        threads.append(threading.get_ident())
        yield b"x"

    async def send(message: Message) -> None:
        pass

    await StreamingResponse(chunks())(HTTP_SCOPE, never_disconnects, send)
    assert threads
    assert threads[0] != threading.get_ident()


def _disconnect_after_first_chunk() -> tuple[Receive, Send, list[Message]]:
    sent: list[Message] = []
    first_chunk = anyio.Event()

    async def receive() -> Message:
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first_chunk.set()

    return receive, send, sent


@pytest.mark.anyio
async def test_async_generator_is_closed_on_disconnect() -> None:
    closed = anyio.Event()

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield b"first"
            await anyio.sleep_forever()
            yield b"never"
        finally:
            closed.set()

    receive, send, sent = _disconnect_after_first_chunk()
    with anyio.fail_after(2):
        await StreamingResponse(slow())(HTTP_SCOPE, receive, send)
    assert closed.is_set()
    assert [m.get("body") for m in sent[1:]] == [b"first"]


@pytest.mark.anyio
async def test_sync_generator_is_closed_on_disconnect() -> None:
    closed = threading.Event()

    def endless() -> Iterator[bytes]:
        try:
            while True:
                yield b"tick"
                threading.Event().wait(0.01)
        finally:
            closed.set()

    receive, send, _ = _disconnect_after_first_chunk()
    with anyio.fail_after(2):
        await StreamingResponse(endless())(HTTP_SCOPE, receive, send)
    assert closed.is_set()


@pytest.mark.anyio
async def test_send_failing_with_oserror_stops_quietly() -> None:
    closed = anyio.Event()

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"x"
        finally:
            closed.set()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset")

    ran: list[bool] = []
    response = StreamingResponse(chunks(), background=BackgroundTask(ran.append, True))
    await response(HTTP_SCOPE, never_disconnects, send)
    assert closed.is_set()
    assert ran == [True]


@pytest.mark.anyio
async def test_head_does_not_iterate() -> None:
    started: list[bool] = []

    async def chunks() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"x"

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {**HTTP_SCOPE, "method": "HEAD"}
    await StreamingResponse(chunks())(scope, never_disconnects, send)
    assert started == []
    assert sent[1] == {"type": "http.response.body", "body": b""}


@pytest.mark.anyio
async def test_generator_error_propagates_unwrapped() -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"x"
        raise KeyError("boom")

    async def send(message: Message) -> None:
        pass

    with pytest.raises(KeyError, match="boom"):
        await StreamingResponse(broken())(HTTP_SCOPE, never_disconnects, send)


@pytest.mark.anyio
async def test_background_runs_after_stream() -> None:
    order: list[str] = []

    async def chunks() -> AsyncIterator[bytes]:
        order.append("stream")
        yield b"x"

    async def send(message: Message) -> None:
        pass

    response = StreamingResponse(chunks(), background=BackgroundTask(order.append, "task"))
    await response(HTTP_SCOPE, never_disconnects, send)
    assert order == ["stream", "task"]
