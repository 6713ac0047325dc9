"""The session cookie itself: its attributes, its size limit, lazy decoding, start-up checks."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

import prow.scope
from prow import App, ConfigurationError, Cookie, Request, WebSocket
from prow.middleware import Middleware
from prow.sessions import MemoryStore, SessionMiddleware, SessionTooLarge
from prow.testing import TestClient
from prow.types import ASGIApp, Receive, Scope, Send
from sessions._helpers import KEY, cookie, make_app


@pytest.mark.parametrize("store", [None, MemoryStore()], ids=["cookie", "memory"])
def test_default_attributes(store: MemoryStore | None) -> None:
    with TestClient(make_app(store)) as client:
        header = client.post("/set", json={"user": "ada"}).headers["set-cookie"]
    parts = header.split("; ")
    assert parts[0].startswith("session=")
    assert set(parts[1:]) == {"Max-Age=1209600", "Path=/", "HttpOnly", "SameSite=Lax"}


@pytest.mark.parametrize("store", [None, MemoryStore()], ids=["cookie", "memory"])
def test_secure_on_https(store: MemoryStore | None) -> None:
    with TestClient(make_app(store), base_url="https://testserver") as client:
        response = client.post("/set", json={"user": "ada"})
        assert "; Secure" in response.headers["set-cookie"]
        assert client.get("/get").json() == {"user": "ada"}
        assert "; Secure" in client.post("/logout").headers["set-cookie"]


def test_https_only_forces_or_forbids_secure() -> None:
    with TestClient(make_app(https_only=True)) as client:
        assert "; Secure" in client.post("/set", json={"a": 1}).headers["set-cookie"]
    with TestClient(make_app(https_only=False), base_url="https://testserver") as client:
        assert "Secure" not in client.post("/set", json={"a": 1}).headers["set-cookie"]


def test_custom_cookie_options() -> None:
    app = make_app(
        cookie_name="sid", max_age=600, path="/app", domain="example.com", same_site="strict"
    )
    with TestClient(app) as client:
        header = client.post("/set", json={"a": 1}).headers["set-cookie"]
    assert header.startswith("sid=")
    for part in ("Max-Age=600", "Path=/app", "Domain=example.com", "SameSite=Strict", "HttpOnly"):
        assert part in header.split("; ")


def test_other_cookies_are_left_alone() -> None:
    with TestClient(make_app()) as client:
        value = client.post("/set", json={"a": 1}).cookies["session"]
        client.cookies.clear()
        headers = {"cookie": f"theme=dark; session={value}; lang=en"}
        assert client.get("/get", headers=headers).json() == {"a": 1}


def test_a_malformed_foreign_cookie_keeps_the_session() -> None:
    # Another app on the domain may set a cookie Python's SimpleCookie cannot parse (JSON,
    # spaces, a cookie named "path"); it once made prow drop every cookie, the session too.
    with TestClient(make_app()) as client:
        value = client.post("/set", json={"a": 1}).cookies["session"]
        client.cookies.clear()
        headers = {"cookie": f'prefs={{"k": 1}}; path=/; session={value}'}
        assert client.get("/get", headers=headers).json() == {"a": 1}


class _CountingScope(dict[str, Any]):
    """A scope that counts how often the cookie parse is cached in it (once per parse)."""

    parses = 0

    def __setitem__(self, key: str, value: Any) -> None:
        if key == prow.scope.COOKIES:
            self.parses += 1
        super().__setitem__(key, value)


@pytest.mark.parametrize("store", [None, MemoryStore()], ids=["cookie", "memory"])
def test_cookie_header_is_parsed_once_per_request(store: MemoryStore | None) -> None:
    # The session middleware (twice for a cookie session), the CSRF check, request.cookies
    # and a Cookie() parameter all read the cookies: they share one parse.
    app = App(secret_key=KEY, middleware=[Middleware(SessionMiddleware, store=store)])
    scopes: list[_CountingScope] = []

    async def counting_server(scope: Scope, receive: Receive, send: Send) -> None:
        scopes.append(_CountingScope(scope))
        await app(scopes[-1], receive, send)

    @app.get("/start")
    async def start(request: Request) -> str:
        request.session["visits"] = 0
        return request.csrf_token()

    @app.post("/visit")
    async def visit(request: Request, theme: Annotated[str, Cookie()]) -> dict[str, Any]:
        request.session["visits"] += 1
        return {"visits": request.session["visits"], "theme": theme, "all": sorted(request.cookies)}

    with TestClient(counting_server) as client:
        token = client.get("/start").json()
        client.cookies.set("theme", "dark")
        response = client.post("/visit", headers={"X-CSRF-Token": token})
    assert response.json() == {
        "visits": 1,
        "theme": "dark",
        "all": ["csrftoken", "session", "theme"],
    }
    assert "session=" in response.headers["set-cookie"]
    assert scopes[-1].parses == 1


def test_a_middleware_that_replaces_the_headers_gets_a_fresh_parse() -> None:
    # The session middleware parses the cookies first; an inner middleware then hands the
    # app other headers. The cached parse belongs to the old header list, so it is not used.
    def drop_cookies(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
            await app({**scope, "headers": [*headers, (b"cookie", b"theme=dark")]}, receive, send)

        return middleware

    app = App(
        secret_key=KEY,
        csrf=False,
        middleware=[Middleware(SessionMiddleware, store=MemoryStore()), Middleware(drop_cookies)],
    )

    @app.get("/cookies")
    async def cookies(request: Request) -> dict[str, str]:
        return request.cookies

    with TestClient(app) as client:
        response = client.get("/cookies", headers={"cookie": "session=forged; lang=en"})
    assert response.json() == {"theme": "dark"}


def test_cookie_session_is_decoded_only_when_used() -> None:
    app = make_app()

    @app.get("/loaded")
    async def loaded(request: Request) -> dict[str, bool]:
        before = request.session.accessed
        _ = request.session.get("a")
        return {"before": before, "after": request.session.accessed}

    with TestClient(app) as client:
        client.post("/set", json={"a": 1})
        assert client.get("/loaded").json() == {"before": False, "after": True}


def test_oversized_cookie_session_fails_with_advice() -> None:
    with TestClient(make_app()) as client:
        with pytest.raises(SessionTooLarge, match="over the 4096 bytes") as caught:
            # Random-looking data: compression cannot shrink it under the limit.
            client.post("/set", json={"blob": [str(n * 7919 % 100003) for n in range(1500)]})
        assert "RedisSessionStore" in str(caught.value)


def test_oversized_cookie_session_is_a_500_without_cookie() -> None:
    app = make_app()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/set", json={"blob": [str(n * 7919 % 100003) for n in range(1500)]})
        assert response.status_code == 500
        assert "set-cookie" not in response.headers


def test_large_session_fits_in_a_server_side_store() -> None:
    blob = [str(n * 7919 % 100003) for n in range(1500)]
    with TestClient(make_app(MemoryStore())) as client:
        client.post("/set", json={"blob": blob})
        assert client.get("/get").json() == {"blob": blob}


@pytest.mark.parametrize("store", [None, MemoryStore()], ids=["cookie", "memory"])
def test_values_must_be_json(store: MemoryStore | None) -> None:
    app = make_app(store)

    @app.post("/bad")
    async def bad(request: Request) -> None:
        request.session["when"] = object()

    with (
        TestClient(app) as client,
        pytest.raises(TypeError, match="session values must be JSON-serialisable"),
    ):
        client.post("/bad")


def test_value_changed_in_place_needs_modified() -> None:
    app = make_app()

    @app.post("/append")
    async def append(request: Request, mark: bool) -> list[Any]:
        items: list[Any] = request.session.setdefault("items", [])
        items.append(1)
        if mark:
            request.session.modified = True
        return items

    with TestClient(app) as client:
        client.post("/set", json={"items": []})
        assert "set-cookie" not in client.post("/append?mark=false").headers
        assert client.get("/get").json() == {"items": []}
        client.post("/append?mark=true")
        assert client.get("/get").json() == {"items": [1]}


def test_websocket_reads_the_session() -> None:
    app = make_app()

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(dict(websocket.session))
        await websocket.close()

    with TestClient(app) as client:
        value = client.post("/set", json={"user": "ada"}).cookies["session"]
        with client.websocket_connect("/ws", headers=cookie(value)) as websocket:
            assert websocket.receive_json() == {"user": "ada"}


def test_add_middleware_works_too() -> None:
    app = App(secret_key=KEY)
    app.add_middleware(SessionMiddleware, store=MemoryStore(), cookie_name="sid")

    @app.get("/visit")
    async def visit(request: Request) -> int:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return int(request.session["visits"])

    with TestClient(app) as client:
        assert [client.get("/visit").json() for _ in range(3)] == [1, 2, 3]


# -- start-up checks -------------------------------------------------------------------


def test_missing_secret_key_stops_start_up() -> None:
    app = App(middleware=[Middleware(SessionMiddleware)])
    with pytest.raises(ConfigurationError) as caught, TestClient(app):
        pass
    assert caught.value.code == "prow.E100"
    assert "secret" in caught.value.message


def test_short_secret_key_stops_start_up() -> None:
    app = App(secret_key="too-short", middleware=[Middleware(SessionMiddleware)])
    with pytest.raises(ConfigurationError) as caught, TestClient(app):
        pass
    assert caught.value.code == "prow.E100"


def test_debug_mode_works_without_a_key() -> None:
    app = App(debug=True, middleware=[Middleware(SessionMiddleware)])

    @app.get("/visit")
    async def visit(request: Request) -> int:
        request.session["visits"] = request.session.get("visits", 0) + 1
        return int(request.session["visits"])

    with TestClient(app) as client:
        assert [client.get("/visit").json() for _ in range(2)] == [1, 2]


@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        ({"cookie_name": "my session"}, "prow.E121", "cookie_name"),
        ({"cookie_name": "expires"}, "prow.E121", "cookie_name"),
        ({"max_age": 0}, "prow.E121", "max_age"),
        ({"max_age": 1.5}, "prow.E121", "max_age"),
        ({"path": "app"}, "prow.E121", "path"),
        ({"path": "/;x"}, "prow.E121", "path"),
        ({"domain": "a;b"}, "prow.E121", "domain"),
        ({"domain": "a b"}, "prow.E121", "domain"),
        ({"same_site": "loose"}, "prow.E121", "same_site"),
        ({"same_site": "none", "https_only": False}, "prow.E122", "https_only=True"),
        ({"store": {}}, "prow.E123", "SessionStore"),
    ],
)
def test_bad_options_stop_start_up(options: dict[str, Any], code: str, words: str) -> None:
    app = App(secret_key=KEY, middleware=[Middleware(SessionMiddleware, **options)])
    with pytest.raises(ConfigurationError) as caught, TestClient(app):
        pass
    assert caught.value.code == code
    assert words in caught.value.message


def test_same_site_none_is_secure_by_default() -> None:
    with TestClient(make_app(same_site="none"), base_url="https://testserver") as client:
        header = client.post("/set", json={"a": 1}).headers["set-cookie"]
    assert "SameSite=None" in header and "; Secure" in header


def test_same_site_none_is_secure_on_http_too() -> None:
    # Browsers drop SameSite=None cookies that are not Secure; on plain http (a developer's
    # localhost) the Secure one is still kept, the other one never is.
    with TestClient(make_app(same_site="none")) as client:
        header = client.post("/set", json={"a": 1}).headers["set-cookie"]
        assert "SameSite=None" in header and header.endswith("; Secure")
        value = header.split(";")[0].removeprefix("session=")
        client.cookies.clear()  # the test client, like a browser, holds Secure cookies for https
        deletion = client.post("/logout", headers=cookie(value)).headers["set-cookie"]
        assert "Max-Age=0" in deletion and deletion.endswith("; Secure")
