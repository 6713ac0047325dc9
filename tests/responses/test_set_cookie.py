"""``Response.set_cookie`` / ``delete_cookie``: what they send, and what they refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from prow import App, JSONResponse, Request, Response
from prow.testing import TestClient


def test_set_and_read_back() -> None:
    app = App(csrf=False)

    @app.post("/prefs")
    async def save() -> JSONResponse:
        response = JSONResponse({"ok": True})
        response.set_cookie("theme", "dark", max_age=60, httponly=True)
        response.set_cookie("greeting", "hello, world")
        return response

    @app.get("/prefs")
    async def read(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        headers = client.post("/prefs").headers.get_list("set-cookie")
        assert headers == [
            "theme=dark; HttpOnly; Max-Age=60; Path=/; SameSite=Lax",
            'greeting="hello\\054 world"; Path=/; SameSite=Lax',
        ]
        assert client.get("/prefs").json() == {"theme": "dark", "greeting": "hello, world"}


def test_partitioned_and_expires() -> None:
    response = Response()
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    response.set_cookie("embed", "1", expires=when, secure=True, samesite="none", partitioned=True)
    assert response.headers["set-cookie"] == (
        "embed=1; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=None; Secure; Partitioned"
    )


def test_delete_cookie() -> None:
    response = Response()
    response.delete_cookie("session", path="/app", domain="example.com")
    assert response.headers["set-cookie"] == (
        "session=; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; "
        "Path=/app; SameSite=Lax"
    )


@pytest.mark.parametrize(
    ("key", "value", "options", "words"),
    [
        ("my cookie", "1", {}, "cookie name 'my cookie' is not valid"),
        ("expires", "1", {}, "attribute name"),
        ("note", "a; Domain=evil.example", {}, "holds ';' or a control character"),
        ("note", "line\nbreak", {}, "holds ';' or a control character"),
        ("note", "1", {"path": "/; Domain=evil.example"}, "path must start with '/'"),
        ("note", "1", {"samesite": "sometimes"}, "samesite must be 'lax', 'strict' or 'none'"),
        ("note", "1", {"samesite": "none"}, "samesite='none' needs secure=True"),
        ("note", "1", {"partitioned": True}, "partitioned=True needs secure=True"),
    ],
)
def test_refused_cookies(key: str, value: str, options: dict[str, object], words: str) -> None:
    response = Response()
    with pytest.raises(ValueError) as caught:
        response.set_cookie(key, value, **options)  # type: ignore[arg-type]
    assert words in str(caught.value)
    assert "set-cookie" not in response.headers
