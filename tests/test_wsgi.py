from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import anyio
import httpx
import pytest

from prow.types import Message, Scope
from prow.wsgi import WSGIMiddleware

pytestmark = pytest.mark.anyio

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def client(app: Callable[..., Iterable[bytes]], root_path: str = "") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=WSGIMiddleware(app), root_path=root_path)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def echo_environ(environ: Environ, start_response: StartResponse) -> list[bytes]:
    """Answers with the CGI-style environ keys as "KEY=value" lines, plus the request body."""
    body = environ["wsgi.input"].read()
    keys = [k for k in environ if k.isupper()]
    lines = [f"{key}={environ[key]}" for key in sorted(keys)]
    lines += [f"url_scheme={environ['wsgi.url_scheme']}", f"body={body.decode()}"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Answer", "42")])
    return ["\n".join(lines).encode()]


def parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


async def test_environ_carries_request_line_headers_and_body() -> None:
    async with client(echo_environ) as http:
        response = await http.post(
            "/a%20b/c?x=1&y=%C3%A9",
            content=b"payload",
            headers={"X-Custom": "v", "Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 200
    assert response.headers["x-answer"] == "42"
    env = parse(response.text)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == ""
    assert env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "x=1&y=%C3%A9"
    assert env["CONTENT_TYPE"] == "application/octet-stream"
    assert env["CONTENT_LENGTH"] == "7"
    assert env["HTTP_X_CUSTOM"] == "v"
    assert env["HTTP_HOST"] == "testserver"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["SERVER_PORT"] == "80"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["url_scheme"] == "http"
    assert env["body"] == "payload"
    assert "HTTP_CONTENT_TYPE" not in env


async def test_mounted_app_sees_script_name_and_path_info() -> None:
    async with client(echo_environ, root_path="/legacy") as http:
        response = await http.get("/legacy/hello")
    env = parse(response.text)
    assert env["SCRIPT_NAME"] == "/legacy"
    assert env["PATH_INFO"] == "/hello"


async def test_path_outside_root_path_is_kept_whole() -> None:
    # Servers that strip the prefix themselves (older ASGI convention) still work.
    async with client(echo_environ, root_path="/legacy") as http:
        response = await http.get("/hello")
    env = parse(response.text)
    assert env["SCRIPT_NAME"] == "/legacy"
    assert env["PATH_INFO"] == "/hello"


async def test_non_ascii_path_is_given_as_wsgi_latin1_string() -> None:
    async with client(echo_environ) as http:
        response = await http.get("/caf%C3%A9")
    env = parse(response.text)
    # PEP 3333: PATH_INFO holds the raw bytes, one character per byte.
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café"


async def test_repeated_headers_are_joined_and_underscored_names_dropped() -> None:
    headers = [("X-Many", "a"), ("X-Many", "b"), ("Cookie", "a=1"), ("Cookie", "b=2")]
    headers.append(("X_Forged", "evil"))
    async with client(echo_environ) as http:
        response = await http.get("/", headers=headers)
    env = parse(response.text)
    assert env["HTTP_X_MANY"] == "a,b"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert "HTTP_X_FORGED" not in env


async def test_chunked_upload_gets_a_content_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    async with client(echo_environ) as http:
        response = await http.post("/", content=chunks())
    env = parse(response.text)
    assert env["body"] == "abcd"
    assert env["CONTENT_LENGTH"] == "4"


async def test_error_before_start_response_answers_plain_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise RuntimeError("secret detail")

    with caplog.at_level(logging.ERROR, logger="prow.wsgi"):
        async with client(broken) as http:
            response = await http.get("/")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert "secret" not in response.text
    assert "secret detail" in caplog.text


async def test_error_in_body_before_first_chunk_answers_500() -> None:
    def broken(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        raise ValueError("boom")
        yield b"never"

    async with client(broken) as http:
        response = await http.get("/")
    assert response.status_code == 500


async def test_error_after_headers_sent_propagates() -> None:
    def broken(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        raise ValueError("mid-stream")

    async with client(broken) as http:
        with pytest.raises(ValueError, match="mid-stream"):
            await http.get("/")


async def test_exc_info_replaces_headers_not_yet_sent() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("X-Stale", "1")])
        try:
            raise KeyError("missing")
        except KeyError:
            start_response("503 Service Unavailable", [("X-Fresh", "1")], sys.exc_info())
        return [b"sorry"]

    async with client(app) as http:
        response = await http.get("/")
    assert response.status_code == 503
    assert response.text == "sorry"
    assert "x-stale" not in response.headers
    assert response.headers["x-fresh"] == "1"


async def test_exc_info_after_headers_sent_reraises() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"started"
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"unreachable"

    async with client(app) as http:
        with pytest.raises(KeyError, match="late"):
            await http.get("/")


async def test_start_response_twice_without_exc_info_is_an_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [])
        start_response("201 Created", [])
        return [b""]

    async with client(app) as http:
        response = await http.get("/")
    assert response.status_code == 500


async def test_legacy_write_callable_and_wsgi_errors() -> None:
    errors = io.StringIO()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        environ["wsgi.errors"].write("logged\n")
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"one ")
        return [b"two"]

    stderr, sys.stderr = sys.stderr, errors
    try:
        async with client(app) as http:
            response = await http.get("/")
    finally:
        sys.stderr = stderr
    assert response.text == "one two"
    assert errors.getvalue() == "logged\n"


class ClosingBody:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


async def test_iterable_is_closed_after_the_response() -> None:
    body = ClosingBody([b"a", b"", b"b"])

    def app(environ: Environ, start_response: StartResponse) -> ClosingBody:
        start_response("200 OK", [])
        return body

    async with client(app) as http:
        response = await http.get("/")
    assert response.text == "ab"
    assert body.closed


async def call(app: WSGIMiddleware, scope: Scope, on_send: Callable[[Message], Any]) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        on_send(message)

    await app(scope, receive, send)


def http_scope(path: str = "/") -> Scope:
    return {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}


async def test_body_is_streamed_while_the_wsgi_app_is_still_running() -> None:
    first_chunk_delivered = threading.Event()
    messages: list[Message] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"first"
        # Only continues once the event loop has passed "first" on to the client.
        assert first_chunk_delivered.wait(5), "first chunk was buffered, not streamed"
        yield b"second"

    def on_send(message: Message) -> None:
        messages.append(message)
        if message.get("body") == b"first":
            first_chunk_delivered.set()

    with anyio.fail_after(5):
        await call(WSGIMiddleware(app), http_scope(), on_send)
    assert [m["type"] for m in messages] == ["http.response.start"] + ["http.response.body"] * 3
    assert [m.get("body") for m in messages[1:]] == [b"first", b"second", b""]
    assert messages[-1].get("more_body", False) is False


async def test_client_gone_stops_and_closes_the_wsgi_app() -> None:
    produced = []
    closed = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            for i in range(1000):
                produced.append(i)
                yield b"x"
        finally:
            closed.set()

    def on_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection lost")

    with anyio.fail_after(5), pytest.raises(OSError, match="connection lost"):
        await call(WSGIMiddleware(app), http_scope(), on_send)
    assert closed.is_set()
    assert len(produced) < 10


async def test_workers_limit_concurrency() -> None:
    running = 0
    peak = 0
    lock = threading.Lock()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.05)
        with lock:
            running -= 1
        start_response("204 No Content", [])
        return []

    middleware = WSGIMiddleware(app, workers=2)
    async with anyio.create_task_group() as tasks:
        for _ in range(6):
            tasks.start_soon(call, middleware, http_scope(), lambda m: None)
    assert peak == 2


async def test_disconnect_before_body_skips_the_app() -> None:
    called = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        called.append(True)
        return []

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await WSGIMiddleware(app)(http_scope(), receive, send)
    assert called == []
    assert sent == []


async def test_websocket_is_closed_and_lifespan_ignored() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    middleware = WSGIMiddleware(echo_environ)
    await middleware({"type": "websocket", "path": "/", "headers": []}, receive, send)
    await middleware({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1000}]


async def test_flask_app_mounted_under_a_prefix() -> None:
    flask = pytest.importorskip("flask")
    legacy = flask.Flask("legacy")

    @legacy.get("/hello/<name>")
    def hello(name: str) -> Any:
        return {"hello": name, "script_root": flask.request.script_root}

    @legacy.post("/echo")
    def echo() -> Any:
        return {"got": flask.request.get_json(), "q": flask.request.args.get("q")}

    @legacy.get("/link")
    def link() -> str:
        return flask.url_for("hello", name="x")

    async with client(legacy, root_path="/legacy") as http:
        hello_response = await http.get("/legacy/hello/caf%C3%A9")
        echo_response = await http.post("/legacy/echo?q=1", json={"a": [1, 2]})
        link_response = await http.get("/legacy/link")
        missing = await http.get("/legacy/nope")
    assert hello_response.json() == {"hello": "café", "script_root": "/legacy"}
    assert echo_response.json() == {"got": {"a": [1, 2]}, "q": "1"}
    assert link_response.text == "/legacy/hello/x"
    assert missing.status_code == 404


async def test_cancelled_request_stops_the_wsgi_app_without_hanging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = threading.Event()
    never = anyio.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        try:
            while True:
                yield b"x"
        finally:
            closed.set()

    async def slow_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            await never.wait()  # a client that stopped reading

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    with anyio.fail_after(5), anyio.move_on_after(0.2) as scope:
        await WSGIMiddleware(app)(http_scope(), receive, slow_send)
    assert scope.cancelled_caught
    assert closed.wait(2)
    assert "WSGI application raised" not in caplog.text


async def test_str_chunk_is_a_500_not_a_truncated_response() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[str]:
        start_response("200 OK", [])
        return ["not bytes"]

    async with client(app) as http:  # type: ignore[arg-type]
        response = await http.get("/")
    assert response.status_code == 500
