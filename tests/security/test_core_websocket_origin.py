"""Cross-site websocket hijacking: handshakes with cookies must come from the app's origin.

Browsers apply no same-origin policy to websockets: another site's script can open one to
the app, the browser attaches the cookies (same-site sibling origins, ``SameSite=None``),
and the script reads everything the handler sends the user.
"""

from __future__ import annotations

from typing import Any

import pytest

from prow import App, Depends, WebSocket, WebSocketDisconnect
from prow.testing import TestClient

ran: list[str] = []


def note_dependency(websocket: WebSocket) -> None:
    ran.append("dependency")


def make_app(**kwargs: object) -> App:
    app = App(**kwargs)  # type: ignore[arg-type]

    @app.websocket("/ws", dependencies=[Depends(note_dependency)])
    async def who(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"session": websocket.cookies.get("session")})
        await websocket.close()

    @app.websocket("/public", csrf=False)
    async def public(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return app


def refused(client: TestClient, path: str, headers: dict[str, Any]) -> WebSocketDisconnect:
    """The close the handshake was refused with."""
    with (
        pytest.raises(WebSocketDisconnect) as info,
        client.websocket_connect(path, headers=headers),
    ):
        pass
    return info.value


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Origin": "https://evil.example"}, "cross-site request (Origin https://evil.example)"),
        (
            {"Origin": "https://chat.testserver"},
            "cross-site request (Origin https://chat.testserver)",
        ),
        (
            {"Origin": "http://testserver:8080"},
            "cross-site request (Origin http://testserver:8080)",
        ),
        ({"Origin": "null"}, "cross-site request (Origin null)"),
        (
            {"Sec-Fetch-Site": "cross-site"},
            "cross-site request (Sec-Fetch-Site: cross-site, Origin unknown origin)",
        ),
    ],
)
def test_a_cross_site_handshake_with_cookies_is_closed(
    headers: dict[str, str], detail: str
) -> None:
    client = TestClient(make_app(), cookies={"session": "victim"})
    closed = refused(client, "/ws", headers)
    assert (closed.code, closed.reason) == (1008, detail)
    assert ran == []  # refused before the handler and its dependencies


def test_a_same_origin_handshake_with_cookies_works() -> None:
    client = TestClient(make_app(), cookies={"session": "mine"})
    for headers in ({"Origin": "http://testserver"}, {}, {"Sec-Fetch-Site": "same-origin"}):
        with client.websocket_connect("/ws", headers=headers) as ws:
            assert ws.receive_json() == {"session": "mine"}


def test_the_secure_scheme_maps_to_an_https_origin() -> None:
    client = TestClient(make_app(), base_url="https://testserver", cookies={"session": "s"})
    with client.websocket_connect("/ws", headers={"Origin": "https://testserver"}) as ws:
        assert ws.receive_json() == {"session": "s"}
    assert refused(client, "/ws", {"Origin": "http://testserver"}).code == 1008


def test_a_trusted_origin_is_accepted() -> None:
    client = TestClient(
        make_app(csrf_trusted_origins=["https://app.example"]), cookies={"session": "s"}
    )
    with client.websocket_connect("/ws", headers={"Origin": "https://app.example"}) as ws:
        assert ws.receive_json() == {"session": "s"}


def test_a_handshake_without_cookies_is_not_checked() -> None:
    # Nothing ambient to abuse: the other site's script learns only what it could fetch itself.
    client = TestClient(make_app())
    with client.websocket_connect("/ws", headers={"Origin": "https://evil.example"}) as ws:
        assert ws.receive_json() == {"session": None}


def test_csrf_false_opts_a_websocket_route_out() -> None:
    client = TestClient(make_app(), cookies={"session": "s"})
    with client.websocket_connect("/public", headers={"Origin": "https://evil.example"}) as ws:
        assert ws.receive_text() == "hello"


def test_a_strict_websocket_route_checks_without_cookies() -> None:
    app = App()

    @app.websocket("/feed", csrf="strict")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.close()

    assert refused(TestClient(app), "/feed", {"Origin": "https://e.example"}).code == 1008


def test_a_long_origin_gives_a_valid_close_reason() -> None:
    client = TestClient(make_app(), cookies={"session": "s"})
    closed = refused(client, "/ws", {"Origin": ("https://" + "é" * 200).encode("latin-1")})
    assert closed.code == 1008
    assert len((closed.reason or "").encode()) <= 123  # the websocket limit
