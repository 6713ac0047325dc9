"""Error answers: HTTPError, exception handlers, 500s with and without debug."""

import json
import logging
import socket
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, Field

from _browser import serve_app
from prow import (
    App,
    Depends,
    HTMLResponse,
    HTTPError,
    JSONResponse,
    PlainTextResponse,
    Request,
    UploadFile,
)
from prow.middleware import Middleware
from prow.testing import AsyncTestClient, TestClient

PROBLEM = "application/problem+json"


class OutOfStock(Exception):
    def __init__(self, sku: str) -> None:
        super().__init__(sku)
        self.sku = sku


class Backorder(OutOfStock):
    pass


def failing_app(**options: object) -> App:
    app = App(**options)  # type: ignore[arg-type]

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("secret-db-password in a message")

    return app


def test_http_error_is_problem_json_with_headers() -> None:
    app = App()

    @app.get("/limited")
    async def limited() -> None:
        raise HTTPError(429, "slow down", headers={"Retry-After": "30"})

    @app.get("/default-detail")
    async def default_detail() -> None:
        raise HTTPError(403)

    client = TestClient(app)
    response = client.get("/limited")
    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["retry-after"] == "30"
    assert response.json() == {
        "type": "about:blank",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "slow down",
    }
    assert client.get("/default-detail").json()["detail"] == "Forbidden"


def test_handler_by_exception_type_async_and_subclass() -> None:
    app = App()

    @app.exception_handler(OutOfStock)
    async def out_of_stock(request: Request, exc: OutOfStock) -> JSONResponse:
        return JSONResponse({"sku": exc.sku, "path": request.url.path}, status_code=409)

    @app.get("/buy/{sku}")
    async def buy(sku: str) -> None:
        raise Backorder(sku)

    response = TestClient(app).get("/buy/X1")
    assert response.status_code == 409
    assert response.json() == {"sku": "X1", "path": "/buy/X1"}


def test_handler_by_status_sync_for_404_and_raised_errors() -> None:
    app = App()

    @app.exception_handler(404)
    def not_found(request: Request, exc: HTTPError) -> HTMLResponse:
        return HTMLResponse(f"<p>nothing at {request.url.path}</p>", status_code=404)

    @app.get("/gone")
    async def gone() -> None:
        raise HTTPError(404, "gone")

    client = TestClient(app)
    for path in ("/nowhere", "/gone"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert response.text == f"<p>nothing at {path}</p>"


def test_handlers_given_to_the_constructor() -> None:
    def on_value_error(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse(f"bad value: {exc}", status_code=400)

    app = App(exception_handlers={ValueError: on_value_error})

    @app.get("/v")
    async def v() -> None:
        raise ValueError("nope")

    response = TestClient(app).get("/v")
    assert (response.status_code, response.text) == (400, "bad value: nope")


def test_validation_errors_can_be_handled_by_status() -> None:
    app = App()

    @app.exception_handler(422)
    async def flat(request: Request, exc: HTTPError) -> JSONResponse:
        return JSONResponse({"invalid": [e["loc"][-1] for e in exc.extra["errors"]]}, 400)

    @app.get("/")
    async def handler(n: int) -> int:
        return n

    response = TestClient(app).get("/?n=x")
    assert response.status_code == 400
    assert response.json() == {"invalid": ["n"]}


def test_unhandled_error_is_a_bare_500() -> None:
    client = TestClient(failing_app(), raise_server_exceptions=False)
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 500
    assert "traceback" not in body
    text = response.text
    assert "secret-db-password" not in text
    assert "RuntimeError" not in text
    assert "Traceback" not in text


def test_test_client_reraises_server_errors_by_default() -> None:
    with pytest.raises(RuntimeError, match="secret-db-password"):
        TestClient(failing_app()).get("/crash")


def test_debug_json_has_traceback() -> None:
    client = TestClient(failing_app(debug=True), raise_server_exceptions=False)
    response = client.get("/crash", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["detail"] == "RuntimeError: secret-db-password in a message"
    assert isinstance(body["traceback"], list)
    assert any("raise RuntimeError" in line for line in body["traceback"])


def test_debug_html_page_for_browsers() -> None:
    client = TestClient(failing_app(debug=True), raise_server_exceptions=False)
    response = client.get("/crash", headers={"Accept": "text/html,application/xhtml+xml"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>RuntimeError: secret-db-password in a message</h1>" in response.text
    assert "Traceback" in response.text
    assert "GET /crash" in response.text


def test_debug_page_escapes_html() -> None:
    app = App(debug=True)

    @app.get("/xss")
    async def xss() -> None:
        raise ValueError("<script>alert(1)</script>")

    response = TestClient(app, raise_server_exceptions=False).get(
        "/xss", headers={"Accept": "text/html"}
    )
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_exception_handler_must_return_a_response() -> None:
    app = App()

    @app.exception_handler(KeyError)
    async def wrong(request: Request, exc: KeyError) -> dict[str, str]:
        return {"not": "a response"}

    @app.get("/")
    async def handler() -> None:
        raise KeyError("k")

    with pytest.raises(TypeError, match="must return a Response"):
        TestClient(app).get("/")


def test_sync_handler_errors_are_handled_too() -> None:
    app = App()

    @app.get("/sync")
    def sync() -> None:
        raise HTTPError(418, "teapot")

    response = TestClient(app).get("/sync")
    assert response.status_code == 418
    assert response.json()["detail"] == "teapot"


def test_head_request_error_has_no_body() -> None:
    client = TestClient(failing_app(), raise_server_exceptions=False)
    response = client.head("/crash")
    assert response.status_code == 500
    assert response.content == b""


def test_500_handler_answers_unhandled_errors() -> None:
    app = failing_app()

    @app.exception_handler(500)
    async def custom(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("custom 500", status_code=500)

    response = TestClient(app, raise_server_exceptions=False).get("/crash")
    assert (response.status_code, response.text) == (500, "custom 500")


def _strict_json(text: str) -> object:
    """Parse as a browser would: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_never_make_invalid_json() -> None:
    app = App()

    class Price(BaseModel):
        amount: float = Field(allow_inf_nan=False)

    @app.post("/prices")
    async def add(price: Price) -> Price:
        return price

    @app.get("/plain")
    async def plain() -> dict[str, float]:
        return {"nan": float("nan"), "inf": float("inf")}

    @app.get("/response")
    async def response() -> JSONResponse:
        return JSONResponse({"inf": float("-inf")})

    client = TestClient(app)
    refused = client.post("/prices", content=b'{"amount": 1e400}')
    assert refused.status_code == 422
    error = _strict_json(refused.text)["errors"][0]  # type: ignore[index]
    assert error["loc"] == ["body", "amount"]
    assert error["input"] == "Infinity"  # echoed as text, not a bare Infinity
    assert _strict_json(client.get("/plain").text) == {"nan": None, "inf": None}
    assert _strict_json(client.get("/response").text) == {"inf": None}


# -- an unhandled error is answered once, logged once, and keeps the connection -------------


class FailingMiddleware:
    """Raises on two paths: before the response starts, and after it is complete."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/middleware-crash":
            raise RuntimeError("middleware failed before answering")
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == "/middleware-after":
            raise RuntimeError("middleware failed after answering")


def keep_alive_app(*, middleware: bool) -> App:
    app = App(middleware=[Middleware(FailingMiddleware)] if middleware else [])

    async def breaks_on_cleanup() -> AsyncIterator[None]:
        yield
        raise RuntimeError("cleanup failed")

    @app.get("/port")
    async def port(request: Request) -> int:
        assert request.client is not None
        return request.client.port

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("handler failed")

    @app.get("/cleanup", dependencies=[Depends(breaks_on_cleanup)])
    async def cleanup() -> str:
        return "answered"

    @app.get("/middleware-crash")
    @app.get("/middleware-after")
    async def plain() -> str:
        return "answered"

    return app


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.name, str(r.exc_info[1])) for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("middleware", [False, True], ids=["bare", "with-middleware"])
def test_a_500_keeps_the_keep_alive_connection_on_a_real_server(
    middleware: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app = keep_alive_app(middleware=middleware)
    failing = {"/crash": "handler failed", "/cleanup": "cleanup failed"}
    answered_before_failing = {"/cleanup", "/middleware-after"}
    if middleware:
        failing["/middleware-crash"] = "middleware failed before answering"
        failing["/middleware-after"] = "middleware failed after answering"
    # log_config=None: uvicorn's records reach caplog, so a second traceback would show.
    with serve_app(app, log_config=None) as base_url, httpx.Client(base_url=base_url) as client:
        port = client.get("/port").json()
        for path, message in failing.items():
            caplog.clear()
            response = client.get(path)
            assert response.headers.get("connection") != "close"
            assert response.status_code == (200 if path in answered_before_failing else 500)
            # The next request travels on the same connection: the server did not drop it.
            assert client.get("/port").json() == port
            assert tracebacks(caplog) == [("prow.error", message)], path


def test_the_test_client_still_raises_errors_prow_answered() -> None:
    app = keep_alive_app(middleware=True)
    client = TestClient(app)
    for path, message in [
        ("/crash", "handler failed"),
        ("/cleanup", "cleanup failed"),
        ("/middleware-crash", "failed before answering"),
        ("/middleware-after", "failed after answering"),
    ]:
        with pytest.raises(RuntimeError, match=message):
            client.get(path)
    quiet = TestClient(app, raise_server_exceptions=False)
    assert quiet.get("/crash").status_code == 500
    assert quiet.get("/cleanup").text == '"answered"'


@pytest.mark.anyio
async def test_the_async_test_client_still_raises_errors_prow_answered() -> None:
    async with AsyncTestClient(keep_alive_app(middleware=False)) as client:
        with pytest.raises(RuntimeError, match="handler failed"):
            await client.get("/crash")


# -- a client that goes away while sending its body ----------------------------------------


def upload_app(teardowns: list[str], *, middleware: bool = False) -> App:
    app = App(middleware=[Middleware(FailingMiddleware)] if middleware else [])

    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            teardowns.append(type(exc).__name__)  # a rollback would happen here
            raise

    class Item(BaseModel):
        name: str

    @app.post("/json", dependencies=[Depends(transaction)])
    async def json_body(item: Item) -> str:
        return item.name

    @app.post("/upload", dependencies=[Depends(transaction)])
    async def upload(file: UploadFile) -> int:
        return len(await file.read())

    return app


MULTIPART_START = (
    b"--xyz\r\n"
    b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 1000
)


def disconnect_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "client disconnected" in r.getMessage()]


@pytest.mark.anyio
@pytest.mark.parametrize("middleware", [False, True], ids=["bare", "with-middleware"])
@pytest.mark.parametrize(
    ("path", "content_type", "first_chunk"),
    [
        ("/json", b"application/json", b'{"name": "half'),
        ("/upload", b"multipart/form-data; boundary=xyz", MULTIPART_START),
    ],
    ids=["json", "multipart"],
)
async def test_a_client_gone_mid_body_is_one_log_line_and_no_answer(
    path: str,
    content_type: bytes,
    first_chunk: bytes,
    middleware: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    teardowns: list[str] = []
    app = upload_app(teardowns, middleware=middleware)
    incoming = [
        {"type": "http.request", "body": first_chunk, "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", content_type), (b"content-length", b"100000")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)  # nothing raised at the server
    assert sent == []  # nobody is left to answer: no 500 attempted
    [record] = disconnect_records(caplog)
    assert record.name == "prow.error"
    assert record.levelno == logging.INFO
    assert record.getMessage() == f"client disconnected during the request body: POST {path}"
    assert [r for r in caplog.records if r.exc_info] == []
    assert teardowns == ["ClientDisconnect"]  # dependencies opened before the body see why it ended


def test_a_client_gone_mid_upload_on_a_real_server(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with serve_app(upload_app([]), log_config=None) as base_url:
        host, port = base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(
                b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n"
                b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n" + MULTIPART_START
            )
            time.sleep(0.2)  # let the server start reading the body before the client leaves
        deadline = time.monotonic() + 5
        while not disconnect_records(caplog) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(disconnect_records(caplog)) == 1
    assert tracebacks(caplog) == []


def test_a_forgotten_await_is_named_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    app = App()

    async def count() -> int:
        return 3

    @app.get("/count")
    async def handler() -> int:
        return count()  # type: ignore[return-value]  # 'await' forgotten

    with caplog.at_level(logging.ERROR), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "coroutine ... was never awaited"
        response = TestClient(app, raise_server_exceptions=False).get("/count")
    assert response.status_code == 500
    assert "an 'await' is missing" in caplog.text
