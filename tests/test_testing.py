"""prow.testing against small hand-written ASGI apps."""

from __future__ import annotations

import gc
import importlib
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from prow import App
from prow.exceptions import WebSocketDisconnect
from prow.testing import AsyncTestClient, TestClient, WebSocketDenialResponse
from prow.types import Message, Receive, Scope, Send

# --------------------------------------------------------------------------- apps


async def read_body(receive: Receive) -> tuple[bytes, int]:
    """The whole request body and how many http.request messages carried it."""
    body, count = b"", 0
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        body += message.get("body", b"")
        count += 1
        if not message.get("more_body", False):
            return body, count


async def send_json(send: Send, data: Any, status: int = 200, headers: Any = ()) -> None:
    payload = json.dumps(data).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), *headers],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with what it saw of the request."""
    assert scope["type"] == "http"
    body, messages = await read_body(receive)
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    await send_json(
        send,
        {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "root_path": scope["root_path"],
            "query_string": scope["query_string"].decode(),
            "headers": headers,
            "body_length": len(body),
            "body": body.decode("latin-1"),
            "messages": messages,
            "client": list(scope["client"]),
            "server": list(scope["server"]),
            "scheme": scope["scheme"],
            "http_version": scope["http_version"],
            "asgi": scope["asgi"],
            "extensions": scope["extensions"],
            "state": scope.get("state"),
        },
    )


async def cookie_app(scope: Scope, receive: Receive, send: Send) -> None:
    """/set sets a cookie; /get shows the cookie header it received."""
    await read_body(receive)
    headers = dict(scope["headers"])
    if scope["path"] == "/set":
        extra = [(b"set-cookie", b"session=abc123; Path=/")]
        await send_json(send, {"set": True}, headers=extra)
    else:
        await send_json(send, {"cookie": headers.get(b"cookie", b"").decode()})


async def redirect_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    if scope["path"] == "/old":
        await send(
            {"type": "http.response.start", "status": 307, "headers": [(b"location", b"/new")]}
        )
        await send({"type": "http.response.body", "body": b""})
    else:
        await send_json(send, {"path": scope["path"]})


async def streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
    await read_body(receive)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    for part in (b"one ", b"two ", b"three"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def crashing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError("boom")


async def crash_after_500_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 500, "headers": []})
    await send({"type": "http.response.body", "body": b"custom error page"})
    raise ValueError("boom after answering")


def lifespan_app(log: list[str], *, fail_startup: bool = False) -> Callable[..., Any]:
    """Records lifespan events in ``log``; stores a value in the lifespan state."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    log.append("startup")
                    if fail_startup:
                        await send({"type": "lifespan.startup.failed", "message": "no database"})
                        return
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    log.append("shutdown")
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        else:
            await read_body(receive)
            log.append("request")
            state = scope["state"]
            state["touched"] = True  # must not leak into the next request
            await send_json(send, {"db": state.get("db"), "keys": sorted(state)})

    return app


# --------------------------------------------------------------------------- HTTP


def test_get_builds_a_complete_scope() -> None:
    client = TestClient(echo_app)
    response = client.get("/items/a%20b", params={"q": "x y", "n": "2"})
    assert response.status_code == 200
    data = response.json()
    assert data["method"] == "GET"
    assert data["path"] == "/items/a b"
    assert data["raw_path"] == "/items/a%20b"
    assert data["query_string"] == "q=x+y&n=2"
    assert data["headers"]["host"] == "testserver"
    assert data["headers"]["user-agent"] == "testclient"
    assert data["client"] == ["testclient", 50000]
    assert data["server"] == ["testserver", 80]
    assert data["scheme"] == "http"
    assert data["http_version"] == "1.1"
    assert data["asgi"] == {"version": "3.0"}
    assert data["extensions"] == {"http.response.debug": {}}
    assert data["state"] == {}
    assert data["body_length"] == 0
    assert data["messages"] == 1


def test_post_json_and_form_data() -> None:
    client = TestClient(echo_app)
    data = client.post("/json", json={"a": 1}).json()
    assert data["method"] == "POST"
    assert json.loads(data["body"]) == {"a": 1}
    assert data["headers"]["content-type"] == "application/json"

    data = client.post("/form", data={"name": "ada", "lang": "py"}).json()
    assert data["body"] == "name=ada&lang=py"
    assert data["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_post_multipart_files() -> None:
    client = TestClient(echo_app)
    files = {"upload": ("hello.txt", b"hello world", "text/plain")}
    data = client.post("/upload", files=files, data={"note": "hi"}).json()
    content_type = data["headers"]["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert data["body_length"] == int(data["headers"]["content-length"])
    assert 'filename="hello.txt"' in data["body"]
    assert "hello world" in data["body"]


def test_chunked_request_body_arrives_in_several_messages() -> None:
    client = TestClient(echo_app)
    data = client.post("/stream", content=iter([b"ab", b"", b"cd", b"ef"])).json()
    assert data["body"] == "abcdef"
    assert data["messages"] == 3


def test_headers_base_url_root_path_and_client_options() -> None:
    client = TestClient(
        echo_app,
        base_url="https://example.org:8443",
        root_path="/api",
        headers={"x-client": "yes"},
        client=("10.1.2.3", 1234),
    )
    data = client.get("/x", headers={"X-Request": "1"}).json()
    assert data["headers"]["x-client"] == "yes"
    assert data["headers"]["x-request"] == "1"
    assert data["headers"]["host"] == "example.org:8443"
    assert data["root_path"] == "/api"
    assert data["scheme"] == "https"
    assert data["server"] == ["example.org", 8443]
    assert data["client"] == ["10.1.2.3", 1234]


def test_head_request_drops_the_body() -> None:
    response = TestClient(echo_app).head("/")
    assert response.status_code == 200
    assert response.content == b""


def test_cookies_persist_across_requests() -> None:
    client = TestClient(cookie_app)
    assert client.get("/get").json() == {"cookie": ""}
    response = client.get("/set")
    assert response.cookies["session"] == "abc123"
    assert client.cookies["session"] == "abc123"
    assert client.get("/get").json() == {"cookie": "session=abc123"}


def test_redirects_are_followed_unless_disabled() -> None:
    response = TestClient(redirect_app).get("/old")
    assert response.status_code == 200
    assert response.json() == {"path": "/new"}
    assert [r.status_code for r in response.history] == [307]

    response = TestClient(redirect_app, follow_redirects=False).get("/old")
    assert response.status_code == 307
    assert response.headers["location"] == "/new"


def test_streaming_response_keeps_chunks() -> None:
    client = TestClient(streaming_app)
    assert client.get("/").text == "one two three"
    assert "content-length" not in client.get("/").headers
    with client.stream("GET", "/") as response:
        assert list(response.iter_raw()) == [b"one ", b"two ", b"three"]


def test_server_exceptions_raise_by_default() -> None:
    with pytest.raises(ValueError, match="boom"):
        TestClient(crashing_app).get("/")


def test_server_exceptions_become_500_when_asked() -> None:
    response = TestClient(crashing_app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"

    response = TestClient(crash_after_500_app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert response.text == "custom error page"


def test_app_that_sends_nothing_is_an_error() -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(RuntimeError, match="without sending"):
        TestClient(silent).get("/")
    assert TestClient(silent, raise_server_exceptions=False).get("/").status_code == 500


def test_protocol_violations_are_reported() -> None:
    async def body_first(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    async def started_twice(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.start", "status": 200})

    with pytest.raises(RuntimeError, match="before its start"):
        TestClient(body_first).get("/")
    with pytest.raises(RuntimeError, match="twice"):
        TestClient(started_twice).get("/")


def test_disconnect_arrives_after_the_response() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})
        seen.append(await receive())

    assert TestClient(app).get("/").status_code == 204
    assert [m["type"] for m in seen] == ["http.request", "http.disconnect"]


def test_debug_extension_is_exposed() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        info = {"template": "page.html", "context": {"x": 1}}
        await send({"type": "http.response.debug", "info": info})
        await send({"type": "http.response.body", "body": b"<p>1</p>"})

    response = TestClient(app).get("/")
    assert response.extensions["http.response.debug"]["template"] == "page.html"
    assert response.template == "page.html"  # type: ignore[attr-defined]
    assert response.context == {"x": 1}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- lifespan


def test_lifespan_runs_around_the_with_block_and_shares_state() -> None:
    log: list[str] = []
    client = TestClient(lifespan_app(log))
    with client:
        assert log == ["startup"]
        first = client.get("/").json()
        second = client.get("/").json()
    assert log == ["startup", "request", "request", "shutdown"]
    assert first == {"db": "connected", "keys": ["db", "touched"]}
    assert second == first
    assert client.app_state == {"db": "connected"}  # the copies' writes did not leak back


def test_no_lifespan_without_with_block() -> None:
    log: list[str] = []
    data = TestClient(lifespan_app(log)).get("/").json()
    assert log == ["request"]
    assert data == {"db": None, "keys": ["touched"]}


def test_startup_failure_raises() -> None:
    log: list[str] = []
    client = TestClient(lifespan_app(log, fail_startup=True))
    with pytest.raises(RuntimeError, match="no database"), client:
        pytest.fail("the block must not run")
    assert log == ["startup"]


def test_startup_exception_propagates() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise ConnectionError("database unreachable")

    with pytest.raises(ConnectionError, match="unreachable"), TestClient(app):
        pass


def test_app_without_lifespan_support_is_tolerated() -> None:
    with TestClient(echo_app) as client:  # echo_app asserts the scope is http
        assert client.get("/").status_code == 200


def test_shutdown_failure_raises() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "flush failed"})

    with pytest.raises(RuntimeError, match="flush failed"), TestClient(app):
        pass


def test_client_can_be_entered_again() -> None:
    log: list[str] = []
    client = TestClient(lifespan_app(log))
    with client:
        pass
    with client:
        pass
    assert log == ["startup", "shutdown", "startup", "shutdown"]


# --------------------------------------------------------------------------- websockets


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts, then echoes every message until the client leaves or says "bye"."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    subprotocol = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send(
        {"type": "websocket.accept", "subprotocol": subprotocol, "headers": [(b"x-ws", b"1")]}
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4001, "reason": "goodbye"})
            return
        await send({"type": "websocket.send", **{k: v for k, v in message.items() if k != "type"}})


def test_websocket_text_bytes_json_echo() -> None:
    client = TestClient(ws_echo)
    with client.websocket_connect("/ws?x=1", subprotocols=["chat", "v2"]) as ws:
        assert ws.accepted_subprotocol == "chat"
        assert ws.extra_headers == [(b"x-ws", b"1")]
        assert ws.scope["scheme"] == "ws"
        assert ws.scope["query_string"] == b"x=1"
        assert dict(ws.scope["headers"])[b"sec-websocket-protocol"] == b"chat, v2"
        ws.send_text("hello")
        assert ws.receive_text() == "hello"
        ws.send_bytes(b"\x00\x01")
        assert ws.receive_bytes() == b"\x00\x01"
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"a": [1, 2]}
        ws.send_json({"b": "é"}, mode="binary")
        assert ws.receive_json(mode="binary") == {"b": "é"}
        ws.send_text("raw")
        assert ws.receive() == {"type": "websocket.send", "text": "raw"}


def test_websocket_wrong_kind_of_message_is_a_clear_error() -> None:
    with TestClient(ws_echo).websocket_connect("/ws") as ws:
        ws.send_bytes(b"x")
        with pytest.raises(TypeError, match="expected a text message"):
            ws.receive_text()
        with pytest.raises(ValueError, match="mode"):
            ws.send_json({}, mode="yaml")  # type: ignore[arg-type]


def test_websocket_close_code_from_app() -> None:
    with TestClient(ws_echo).websocket_connect("/ws") as ws:
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
        assert (info.value.code, info.value.reason) == (4001, "goodbye")
        with pytest.raises(WebSocketDisconnect) as info:  # and again, without hanging
            ws.receive()
        assert info.value.code == 4001


def test_websocket_client_close_reaches_app() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        seen.append(await receive())

    with TestClient(app).websocket_connect("/") as ws:
        ws.close(code=4100, reason="done")
    assert seen == [{"type": "websocket.disconnect", "code": 4100, "reason": "done"}]


def test_websocket_leaving_the_block_disconnects_with_1000() -> None:
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        seen.append(await receive())

    with TestClient(app).websocket_connect("/"):
        pass
    assert seen[0]["code"] == 1000


def test_websocket_closed_before_accept() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008, "reason": "not allowed"})

    with pytest.raises(WebSocketDisconnect) as info, TestClient(app).websocket_connect("/"):
        pytest.fail("must not be entered")
    assert (info.value.code, info.value.reason) == (1008, "not allowed")


def test_websocket_app_returning_without_sending_does_not_hang() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    with TestClient(app).websocket_connect("/") as ws, pytest.raises(WebSocketDisconnect) as info:
        ws.receive_text()
    assert info.value.code == 1006


def test_websocket_app_exception_on_receive() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ValueError("handler failed")

    with TestClient(app).websocket_connect("/") as ws:
        ws.send_text("go")
        with pytest.raises(ValueError, match="handler failed"):
            ws.receive_text()


def test_websocket_app_exception_on_exit() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise KeyError("late")

    with pytest.raises(KeyError, match="late"), TestClient(app).websocket_connect("/") as ws:
        ws.send_text("go")


def test_websocket_app_exception_before_accept() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("no route")

    with pytest.raises(LookupError, match="no route"), TestClient(app).websocket_connect("/"):
        pass


def test_websocket_send_after_client_left_stops_the_app_quietly() -> None:
    async def ticker(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        n = 0
        while True:  # never reads: learns of the disconnect only when send fails
            await send({"type": "websocket.send", "text": str(n)})
            n += 1
            if n > 10_000:  # pragma: no cover - the client left long before
                raise AssertionError("send did not fail after the client left")

    with TestClient(ticker).websocket_connect("/") as ws:
        assert ws.receive_text() == "0"


def test_websocket_app_ignoring_disconnect_is_cancelled() -> None:
    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await anyio.sleep_forever()

    with (
        pytest.raises(RuntimeError, match="cancelled"),
        TestClient(stubborn).websocket_connect("/") as ws,
    ):
        ws.close_timeout = 0.05


def test_websocket_denial_response() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert "websocket.http.response" in scope["extensions"]
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send(
            {"type": "websocket.http.response.body", "body": b'{"detail":', "more_body": True}
        )
        await send({"type": "websocket.http.response.body", "body": b'"forbidden"}'})

    with pytest.raises(WebSocketDenialResponse) as info, TestClient(app).websocket_connect("/"):
        pass
    assert info.value.status_code == 403
    assert info.value.headers["content-type"] == "application/json"
    assert info.value.json() == {"detail": "forbidden"}
    assert "403" in str(info.value)


def test_websocket_shares_lifespan_state_and_cookies() -> None:
    log: list[str] = []
    inner = lifespan_app(log)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await inner(scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.accept"})
        cookie = dict(scope["headers"]).get(b"cookie", b"").decode()
        await send({"type": "websocket.send", "text": f"{scope['state'].get('db')} {cookie}"})
        await receive()

    with TestClient(app, cookies={"token": "t1"}) as client, client.websocket_connect("/") as ws:
        assert ws.receive_text() == "connected token=t1"


# --------------------------------------------------------------------------- async client


@pytest.mark.anyio
async def test_async_client_http_basics() -> None:
    async with AsyncTestClient(echo_app) as client:
        data = (await client.post("/p", params={"a": "1"}, json=[1, 2])).json()
    assert data["path"] == "/p"
    assert data["query_string"] == "a=1"
    assert json.loads(data["body"]) == [1, 2]
    assert data["headers"]["host"] == "testserver"

    client = AsyncTestClient(cookie_app)
    await client.get("/set")
    assert (await client.get("/get")).json() == {"cookie": "session=abc123"}
    assert (await AsyncTestClient(redirect_app).get("/old")).json() == {"path": "/new"}
    assert (await AsyncTestClient(streaming_app).get("/")).text == "one two three"


@pytest.mark.anyio
async def test_async_client_server_exceptions() -> None:
    with pytest.raises(ValueError, match="boom"):
        await AsyncTestClient(crashing_app).get("/")
    response = await AsyncTestClient(crashing_app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500


@pytest.mark.anyio
async def test_async_client_lifespan() -> None:
    log: list[str] = []
    client = AsyncTestClient(lifespan_app(log))
    async with client:
        assert (await client.get("/")).json()["db"] == "connected"
    assert log == ["startup", "request", "shutdown"]

    with pytest.raises(RuntimeError, match="no database"):
        async with AsyncTestClient(lifespan_app([], fail_startup=True)):
            pytest.fail("the block must not run")


@pytest.mark.anyio
async def test_async_websocket_session() -> None:
    client = AsyncTestClient(ws_echo)
    async with client.websocket_connect("/ws", subprotocols=["chat"]) as ws:
        assert ws.accepted_subprotocol == "chat"
        await ws.send_text("hi")
        assert await ws.receive_text() == "hi"
        await ws.send_bytes(b"b")
        assert await ws.receive_bytes() == b"b"
        await ws.send_json({"k": 1})
        assert await ws.receive_json() == {"k": 1}
        await ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.receive_text()
        assert info.value.code == 4001


@pytest.mark.anyio
async def test_async_websocket_errors() -> None:
    async def reject(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 1008})

    async def crash(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ValueError("async handler failed")

    with pytest.raises(WebSocketDisconnect) as info:
        async with AsyncTestClient(reject).websocket_connect("/"):
            pytest.fail("must not be entered")
    assert info.value.code == 1008

    async with AsyncTestClient(crash).websocket_connect("/") as ws:
        await ws.send_text("go")
        with pytest.raises(ValueError, match="async handler failed"):
            await ws.receive_text()

    with pytest.raises(ValueError, match="async handler failed"):
        async with AsyncTestClient(crash).websocket_connect("/") as ws:
            await ws.send_text("go")


@pytest.mark.anyio
async def test_async_websocket_denial_and_lifespan_state() -> None:
    log: list[str] = []
    inner = lifespan_app(log)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await inner(scope, receive, send)
            return
        await receive()
        status = 401 if scope["state"].get("db") == "connected" else 500
        await send({"type": "websocket.http.response.start", "status": status, "headers": []})
        await send({"type": "websocket.http.response.body", "body": b"log in first"})

    async with AsyncTestClient(app) as client:
        with pytest.raises(WebSocketDenialResponse) as info:
            async with client.websocket_connect("/"):
                pytest.fail("must not be entered")
    assert info.value.status_code == 401
    assert info.value.text == "log in first"
    assert log == ["startup", "shutdown"]


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    monkeypatch.delitem(sys.modules, "prow.testing")
    with pytest.raises(ImportError, match=r"pip install 'prow\[testing\]'"):
        importlib.import_module("prow.testing")


def test_httpx_response_type() -> None:
    assert isinstance(TestClient(echo_app).get("/"), httpx.Response)


def _loop_threads() -> int:
    return sum(thread.name == "prow-testclient-loop" for thread in threading.enumerate())


def test_a_client_dropped_without_close_gives_its_loop_back() -> None:
    before = _loop_threads()
    for number in range(5):
        app = App()

        @app.get("/")
        async def root(value: int = number) -> dict[str, int]:
            return {"n": value}

        assert TestClient(app).get("/").json() == {"n": number}  # never closed
    assert _loop_threads() >= before + 1
    gc.collect()
    TestClient(App())  # the next client stops the loops nobody can use any more
    assert _loop_threads() <= before


def test_a_client_in_use_keeps_its_loop() -> None:
    app = App()

    @app.get("/")
    async def root() -> dict[str, bool]:
        return {"ok": True}

    kept = TestClient(app)
    assert kept.get("/").json() == {"ok": True}
    gc.collect()
    TestClient(App())
    assert kept.get("/").json() == {"ok": True}
    kept.close()
