from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from prow import App, ConfigurationError, HTTPError, Request, WebSocket
from prow.logging import JSONFormatter, TextFormatter, configure_logging
from prow.middleware import AccessLogMiddleware, Middleware
from prow.testing import TestClient
from prow.types import Message, Receive, Scope, Send

HEX_ID = re.compile(r"[0-9a-f]{32}")


def make_app(*, debug: bool = False, **options: str) -> App:
    app = App(debug=debug, middleware=[Middleware(AccessLogMiddleware, **options)])

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, request: Request) -> dict[str, object]:
        return {"item_id": item_id, "request_id": request.state.request_id}

    @app.post("/login")
    async def login(request: Request) -> str:
        await request.body()
        return "ok"

    @app.get("/forbidden")
    async def forbidden() -> str:
        raise HTTPError(403, "no")

    @app.get("/boom")
    async def boom() -> str:
        raise RuntimeError("kaput")

    return app


@pytest.fixture
def caplog_access(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO, logger="prow.access")
    yield caplog


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "prow.access"]


def only_record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    records = access_records(caplog)
    assert len(records) == 1
    return records[0]


def test_success_is_logged_with_its_fields(caplog_access: pytest.LogCaptureFixture) -> None:
    response = TestClient(make_app()).get("/items/3?secret=x")
    assert response.status_code == 200
    record = only_record(caplog_access)
    assert record.levelno == logging.INFO
    assert record.__dict__["method"] == "GET"
    assert record.__dict__["path"] == "/items/3"  # the query string is never logged
    assert record.__dict__["status"] == 200
    assert record.__dict__["client"] == "testclient"
    duration = record.__dict__["duration_ms"]
    assert isinstance(duration, float) and 0 <= duration < 5000
    request_id = record.__dict__["request_id"]
    assert HEX_ID.fullmatch(request_id)
    assert response.headers["x-request-id"] == request_id
    assert response.json()["request_id"] == request_id  # request.state.request_id


def test_not_found(caplog_access: pytest.LogCaptureFixture) -> None:
    assert TestClient(make_app()).get("/nowhere").status_code == 404
    record = only_record(caplog_access)
    assert record.__dict__["status"] == 404
    assert record.levelno == logging.INFO


def test_http_error(caplog_access: pytest.LogCaptureFixture) -> None:
    assert TestClient(make_app()).get("/forbidden").status_code == 403
    assert only_record(caplog_access).__dict__["status"] == 403


def test_server_error_is_logged_and_still_raised(caplog_access: pytest.LogCaptureFixture) -> None:
    with pytest.raises(RuntimeError, match="kaput"):
        TestClient(make_app()).get("/boom")
    record = only_record(caplog_access)
    assert record.__dict__["status"] == 500
    assert record.__dict__["error"] == "RuntimeError"
    assert record.levelno == logging.ERROR


def test_server_error_answer_carries_the_request_id(
    caplog_access: pytest.LogCaptureFixture,
) -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    response = client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert only_record(caplog_access).__dict__["request_id"] == "trace-500"


async def raising_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise ValueError("before any response")


@pytest.mark.anyio
async def test_exception_before_the_response_counts_as_500(
    caplog_access: pytest.LogCaptureFixture,
) -> None:
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "client": None}

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        raise AssertionError("nothing should be sent")

    with pytest.raises(ValueError):
        await AccessLogMiddleware(raising_app)(scope, receive, send)
    record = only_record(caplog_access)
    assert record.__dict__["status"] == 500
    assert record.__dict__["client"] is None
    assert scope["state"]["request_id"] == record.__dict__["request_id"]


# -- request ids ----------------------------------------------------------------------------


def test_incoming_request_id_is_kept(caplog_access: pytest.LogCaptureFixture) -> None:
    response = TestClient(make_app()).get("/items/1", headers={"X-Request-ID": "abc-123_x.y"})
    assert response.headers["x-request-id"] == "abc-123_x.y"
    assert response.json()["request_id"] == "abc-123_x.y"
    assert only_record(caplog_access).__dict__["request_id"] == "abc-123_x.y"


@pytest.mark.parametrize(
    "bad",
    [
        "a" * 201,  # flooding the logs
        "id\r\nX-Injected: 1",  # header / log line injection
        "id with spaces",
        "<script>",
        "",
    ],
)
@pytest.mark.anyio
async def test_malicious_request_id_is_replaced(
    caplog_access: pytest.LogCaptureFixture, bad: str
) -> None:
    # Raw scope: an HTTP client library would refuse to send CR/LF in a header itself.
    sent: list[Message] = []
    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"x-request-id", bad.encode("latin-1"))],
        "client": ("10.0.0.1", 1234),
    }

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await AccessLogMiddleware(app)(scope, receive, send)
    request_id = only_record(caplog_access).__dict__["request_id"]
    assert HEX_ID.fullmatch(request_id)
    assert (b"x-request-id", request_id.encode()) in sent[0]["headers"]
    assert scope["state"]["request_id"] == request_id


def test_longest_allowed_request_id_is_kept(caplog_access: pytest.LogCaptureFixture) -> None:
    good = "a" * 200
    response = TestClient(make_app()).get("/items/1", headers={"X-Request-ID": good})
    assert response.headers["x-request-id"] == good


def test_custom_header_and_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="myapp.requests")
    app = make_app(logger_name="myapp.requests", request_id_header="X-Correlation-ID")
    response = TestClient(app).get("/items/1", headers={"X-Correlation-ID": "corr-1"})
    assert response.headers["x-correlation-id"] == "corr-1"
    assert "x-request-id" not in response.headers
    records = [r for r in caplog.records if r.name == "myapp.requests"]
    assert [r.__dict__["request_id"] for r in records] == ["corr-1"]


def test_app_set_request_id_header_is_replaced(caplog_access: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"x-request-id", b"from-app")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    response = TestClient(AccessLogMiddleware(app)).get("/", headers={"X-Request-ID": "mine"})
    assert response.headers.get_list("x-request-id") == ["mine"]


# -- what never reaches the log ---------------------------------------------------------------


def test_no_cookies_authorization_or_bodies(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = TestClient(make_app(), raise_server_exceptions=False)
    secret_headers = {"Authorization": "Bearer tok-SECRET-1", "Cookie": "session=SECRET-2"}
    client.post("/login", content=b"password=SECRET-3", headers=secret_headers)
    client.get("/boom?token=SECRET-4", headers=secret_headers)
    assert len(access_records(caplog)) == 2
    formatters = [JSONFormatter(), TextFormatter()]
    # The test client's own (httpx) log shows the URL it requested; prow's records must not.
    for record in (r for r in caplog.records if r.name.startswith("prow")):
        texts = [f.format(record) for f in formatters] + [repr(record.__dict__)]
        for text in texts:
            assert "SECRET" not in text, text


# -- formats ----------------------------------------------------------------------------------


def test_json_message_parses(caplog_access: pytest.LogCaptureFixture) -> None:
    TestClient(make_app(format="json")).get("/items/9", headers={"X-Request-ID": "j1"})
    record = only_record(caplog_access)
    data = json.loads(record.getMessage())
    assert data["method"] == "GET"
    assert data["path"] == "/items/9"
    assert data["status"] == 200
    assert data["request_id"] == "j1"
    assert isinstance(data["duration_ms"], float)
    assert data["message"].startswith("GET /items/9 200 ")


def test_text_message(caplog_access: pytest.LogCaptureFixture) -> None:
    TestClient(make_app(format="text")).get("/items/9", headers={"X-Request-ID": "t1"})
    message = only_record(caplog_access).getMessage()
    assert re.fullmatch(r"GET /items/9 200 \d+\.\dms client=testclient id=t1", message)


@pytest.mark.parametrize(("debug", "is_json"), [(True, False), (False, True)])
def test_auto_follows_the_app_debug_flag(
    caplog_access: pytest.LogCaptureFixture, debug: bool, is_json: bool
) -> None:
    TestClient(make_app(debug=debug)).get("/items/1")
    message = only_record(caplog_access).getMessage()
    assert message.startswith("{") is is_json


def test_json_formatter_output_parses_and_does_not_nest(
    caplog_access: pytest.LogCaptureFixture,
) -> None:
    TestClient(make_app(format="json")).get("/items/2")
    line = JSONFormatter().format(only_record(caplog_access))
    data = json.loads(line)
    assert "\n" not in line
    assert data["level"] == "INFO"
    assert data["logger"] == "prow.access"
    assert data["status"] == 200
    assert data["message"].startswith("GET /items/2 200 ")
    assert data["time"].endswith("+00:00")


def test_text_formatter_renders_json_messages_readably(
    caplog_access: pytest.LogCaptureFixture,
) -> None:
    TestClient(make_app(format="json")).get("/items/2")
    line = TextFormatter().format(only_record(caplog_access))
    assert re.search(r" INFO +prow\.access  GET /items/2 200 ", line)


def test_control_characters_in_the_path_cannot_forge_lines(
    caplog_access: pytest.LogCaptureFixture,
) -> None:
    TestClient(make_app(format="text")).get("/x%0D%0AINFO%20forged")
    record = only_record(caplog_access)
    assert record.__dict__["path"] == "/x\r\nINFO forged"
    assert "\n" not in record.getMessage() and "\\r\\n" in record.getMessage()
    for formatter in (JSONFormatter(), TextFormatter()):
        assert "\n" not in formatter.format(record)


def test_websockets_and_lifespan_pass_through(caplog_access: pytest.LogCaptureFixture) -> None:
    app = make_app()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as connection:
        assert connection.receive_text() == "hi"
    assert access_records(caplog_access) == []


def test_disabled_logger_costs_no_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="prow.access")
    response = TestClient(make_app()).get("/items/1")
    assert access_records(caplog) == []
    assert "x-request-id" in response.headers  # ids still work without logging


@pytest.mark.parametrize(
    ("options", "code"),
    [({"format": "xml"}, "prow.E602"), ({"request_id_header": "X Request\r\nId"}, "prow.E604")],
)
def test_bad_options_fail_at_construction(options: dict[str, str], code: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AccessLogMiddleware(raising_app, **options)
    assert info.value.code == code


# -- configure_logging ------------------------------------------------------------------------


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield root
    root.handlers[:], root.level = saved[0], saved[1]


def test_configure_logging_json(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    logging.getLogger("project").debug("ready %s", "now", extra={"user_id": 7})
    data = json.loads(stream.getvalue())
    assert data["message"] == "ready now"
    assert data["user_id"] == 7
    assert data["level"] == "DEBUG"
    assert root_logger.level == logging.DEBUG


def test_configure_logging_text_without_colour_off_a_terminal(
    root_logger: logging.Logger,
) -> None:
    stream = io.StringIO()
    configure_logging("text", "info", stream=stream)
    logging.getLogger("project").info("line one\nforged")
    output = stream.getvalue()
    assert "\x1b[" not in output
    assert output.count("\n") == 1 and "line one\\nforged" in output


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_configure_logging_colours_on_a_terminal(
    root_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    stream = FakeTerminal()
    configure_logging("text", stream=stream)
    logging.getLogger("project").error("bad")
    assert "\x1b[31m" in stream.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    stream = FakeTerminal()
    configure_logging("text", stream=stream)
    logging.getLogger("project").error("bad")
    assert "\x1b[" not in stream.getvalue()


def test_configure_logging_replaces_its_own_handler(root_logger: logging.Logger) -> None:
    configure_logging("json", stream=io.StringIO())
    configure_logging("text", stream=io.StringIO())
    assert [h.get_name() for h in root_logger.handlers].count("prow") == 1


def test_configure_logging_exception_in_json(root_logger: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    try:
        raise ValueError("oops")
    except ValueError:
        logging.getLogger("project").exception("failed")
    data = json.loads(stream.getvalue())
    assert "ValueError: oops" in data["exception"]


def test_auto_format_follows_debug(root_logger: logging.Logger) -> None:
    debugging = configure_logging("auto", debug=True, stream=io.StringIO())
    assert isinstance(debugging.formatter, TextFormatter)
    production = configure_logging("auto", debug=False, stream=io.StringIO())
    assert isinstance(production.formatter, JSONFormatter)


@pytest.mark.parametrize(
    ("format", "level", "code"), [("xml", "INFO", "prow.E602"), ("json", "LOUD", "prow.E603")]
)
def test_configure_logging_refuses_bad_values(
    root_logger: logging.Logger, format: str, level: str, code: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        configure_logging(format, level)
    assert info.value.code == code
