"""Trusted hosts: a forged Host header is refused before any handler runs.

Threat: an app that builds absolute links (password-reset mails, redirects) from the Host
header would send users to the attacker's host; caches keyed by Host would store it.
"""

from __future__ import annotations

import pytest

from prow import App, ConfigurationError, Request, WebSocket, WebSocketDisconnect
from prow.testing import TestClient


def make_app(**kwargs: object) -> App:
    app = App(**kwargs)  # type: ignore[arg-type]

    @app.get("/reset-link")
    async def reset_link(request: Request) -> str:
        return str(request.url_for("reset_link"))

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hi")
        await websocket.close()

    return app


def test_forged_host_is_refused_with_400() -> None:
    client = TestClient(make_app(allowed_hosts=["shop.example"]))
    response = client.get("/reset-link", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("Invalid Host header")
    assert "evil" not in response.text


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "shop.example.evil.example",
        "evil.example/.shop.example",
        "",
        "shop.example@x",
    ],
)
def test_lookalike_and_malformed_hosts_are_refused(host: str) -> None:
    client = TestClient(make_app(allowed_hosts=["shop.example", "*.api.example"]))
    assert client.get("/reset-link", headers={"Host": host}).status_code == 400


@pytest.mark.parametrize("host", ["shop.example", "SHOP.example:8443", "v2.api.example"])
def test_listed_hosts_pass(host: str) -> None:
    client = TestClient(make_app(allowed_hosts=["shop.example", "*.api.example"]))
    response = client.get("/reset-link", headers={"Host": host})
    assert response.status_code == 200
    assert host in response.json()


def test_no_list_or_star_answers_any_host() -> None:
    for app in (make_app(), make_app(allowed_hosts=["*"])):
        assert TestClient(app).get("/reset-link", headers={"Host": "x.example"}).status_code == 200


def test_websocket_for_a_forged_host_is_closed() -> None:
    client = TestClient(make_app(allowed_hosts=["shop.example"]))
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect("/ws", headers={"Host": "evil.example"}) as ws,
    ):
        ws.receive_text()
    assert info.value.code == 1008
    good = TestClient(make_app(allowed_hosts=["shop.example"]), base_url="http://shop.example")
    with good.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hi"


def test_one_string_instead_of_a_list_fails_at_start_up() -> None:
    with pytest.raises(ConfigurationError, match=r"prow\.E101"):
        App(allowed_hosts="shop.example")


def test_settings_flow_into_the_app() -> None:
    from prow.settings import app_kwargs, load_settings

    settings = load_settings(allowed_hosts=["shop.example"], _env_file=None)
    app = make_app(**app_kwargs(settings))
    assert app.allowed_hosts == ["shop.example"]
    assert TestClient(app).get("/reset-link").status_code == 400  # host "testserver"
