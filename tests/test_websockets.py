"""Websocket routes: typed parameters, dependencies, echo, close codes and disconnects."""

from collections.abc import AsyncIterator
from typing import Annotated

import pytest

from prow import (
    App,
    Depends,
    HTTPError,
    Query,
    Router,
    WebSocket,
    WebSocketDisconnect,
    WebSocketError,
)
from prow.testing import TestClient

events: list[str] = []


def room_prefix(prefix: Annotated[str, Query()] = "#") -> str:
    return prefix


def make_app() -> App:
    app = App()

    @app.websocket("/ws/{room}")
    async def chat(
        websocket: WebSocket,
        room: int,
        name: str,
        prefix: Annotated[str, Depends(room_prefix)],
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room, "name": name, "prefix": prefix})
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                events.append(f"disconnect {message.get('code')}")
                return
            if message.get("text") == "bye":
                await websocket.close(4000, "see you")
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"].upper())
            else:
                await websocket.send_bytes(message["bytes"][::-1])

    @app.websocket("/json")
    async def json_echo(websocket: WebSocket) -> None:
        await websocket.accept()
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})
        await websocket.close()

    @app.websocket("/wait")
    async def wait(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.receive_text()
        except WebSocketDisconnect as exc:
            events.append(f"raised {exc.code}")
            raise

    @app.websocket("/deny")
    async def deny(websocket: WebSocket) -> None:
        raise WebSocketError(4001, "no ticket")

    @app.websocket("/deny-later")
    async def deny_later(websocket: WebSocket) -> None:
        await websocket.accept()
        raise WebSocketError(4003, "kicked")

    @app.websocket("/http-error")
    async def http_error(websocket: WebSocket) -> None:
        raise HTTPError(403, "forbidden room")

    @app.websocket("/crash")
    async def crash(websocket: WebSocket) -> None:
        await websocket.accept()
        raise RuntimeError("handler bug")

    return app


@pytest.fixture
def client() -> TestClient:
    events.clear()
    return TestClient(make_app())


def test_typed_params_dependency_and_text_echo(client: TestClient) -> None:
    with client.websocket_connect("/ws/7?name=ada&prefix=!") as ws:
        assert ws.receive_json() == {"room": 7, "name": "ada", "prefix": "!"}
        ws.send_text("hello")
        assert ws.receive_text() == "HELLO"
        ws.send_bytes(b"abc")
        assert ws.receive_bytes() == b"cba"


def test_server_close_code_is_visible(client: TestClient) -> None:
    with client.websocket_connect("/ws/1?name=a") as ws:
        ws.receive_json()
        ws.send_text("bye")
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert (info.value.code, info.value.reason) == (4000, "see you")


def test_client_close_reaches_the_handler(client: TestClient) -> None:
    with client.websocket_connect("/ws/1?name=a") as ws:
        ws.receive_json()
        ws.close(1001)
    assert events == ["disconnect 1001"]


def test_receive_raises_websocket_disconnect(client: TestClient) -> None:
    with client.websocket_connect("/wait") as ws:
        ws.close(1000)
    assert events == ["raised 1000"]


def test_json_echo(client: TestClient) -> None:
    with client.websocket_connect("/json") as ws:
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"got": {"a": [1, 2]}}
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_text()
    assert info.value.code == 1000


@pytest.mark.parametrize("url", ["/ws/notanint?name=a", "/ws/1"])
def test_invalid_params_close_1008_before_accept(client: TestClient, url: str) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect(url):
        pass
    assert info.value.code == 1008
    assert str(info.value.reason).startswith("invalid parameters: ")


def test_empty_query_value_is_a_valid_string(client: TestClient) -> None:
    with client.websocket_connect("/ws/1?name=a&prefix=") as ws:
        assert ws.receive_json()["prefix"] == ""


def test_websocket_error_closes_with_its_code(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/deny"):
        pass
    assert (info.value.code, info.value.reason) == (4001, "no ticket")
    with client.websocket_connect("/deny-later") as ws, pytest.raises(WebSocketDisconnect) as late:
        ws.receive_text()
    assert (late.value.code, late.value.reason) == (4003, "kicked")


def test_http_error_closes_with_1008(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/http-error"):
        pass
    assert (info.value.code, info.value.reason) == (1008, "forbidden room")


def test_unhandled_error_closes_1011_and_is_reported(client: TestClient) -> None:
    with (
        pytest.raises(RuntimeError, match="handler bug"),
        client.websocket_connect("/crash") as ws,
    ):
        ws.receive_text()


def test_unknown_websocket_path_is_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as info, client.websocket_connect("/nowhere"):
        pass
    assert info.value.code == 1008


def test_websocket_in_router_with_prefix() -> None:
    router = Router(prefix="/live")

    @router.websocket("/feed")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.url.path)
        await websocket.close()

    app = App()
    app.include(router)
    with TestClient(app).websocket_connect("/live/feed") as ws:
        assert ws.receive_text() == "/live/feed"


def test_http_request_to_websocket_only_path_is_404() -> None:
    app = make_app()
    response = TestClient(app).get("/json")
    assert response.status_code == 404
    assert "allow" not in response.headers


def test_generator_dependency_closes_after_the_websocket() -> None:
    steps: list[str] = []

    async def resource() -> AsyncIterator[str]:
        steps.append("open")
        yield "res"
        steps.append("close")

    app = App()

    @app.websocket("/ws")
    async def handler(websocket: WebSocket, r: Annotated[str, Depends(resource)]) -> None:
        await websocket.accept()
        await websocket.send_text(r)
        steps.append("sent")
        await websocket.close()

    with TestClient(app).websocket_connect("/ws") as ws:
        assert ws.receive_text() == "res"
    assert steps == ["open", "sent", "close"]
