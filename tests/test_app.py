"""The application object: middleware, state, docs routes, configuration checks."""

from typing import Any

import pytest

from prow import App, ConfigurationError, Request
from prow.middleware import CORSMiddleware, GZipMiddleware, Middleware
from prow.testing import TestClient

ORIGIN = "https://a.example"


def make_app(**options: Any) -> App:
    app = App(**options)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    @app.get("/big")
    async def big() -> dict[str, str]:
        return {"data": "x" * 2000}

    return app


def test_app_is_an_asgi_app_without_middleware() -> None:
    response = TestClient(make_app()).get("/hello")
    assert response.json() == {"hello": "world"}
    assert "access-control-allow-origin" not in response.headers


def test_cors_middleware_from_constructor() -> None:
    app = make_app(middleware=[Middleware(CORSMiddleware, allow_origins=[ORIGIN])])
    client = TestClient(app)
    allowed = client.get("/hello", headers={"Origin": ORIGIN})
    assert allowed.json() == {"hello": "world"}
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    other = client.get("/hello", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/hello",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN


def test_gzip_middleware_added_later() -> None:
    app = make_app()
    app.add_middleware(GZipMiddleware)
    client = TestClient(app)
    response = client.get("/big", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < 200  # compressed on the wire
    assert response.json() == {"data": "x" * 2000}  # httpx decodes it
    small = client.get("/hello", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers
    raw = client.get("/big", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert int(raw.headers["content-length"]) > 2000


def test_middleware_order_first_is_outermost() -> None:
    order: list[str] = []

    def tagging(label: str) -> Any:
        class Tag:
            def __init__(self, app: Any) -> None:
                self.app = app

            async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
                order.append(f"{label} in")
                await self.app(scope, receive, send)
                order.append(f"{label} out")

        return Tag

    app = make_app(middleware=[Middleware(tagging("outer")), Middleware(tagging("inner"))])
    app.add_middleware(tagging("added"))
    TestClient(app).get("/hello")
    assert order == ["added in", "outer in", "inner in", "inner out", "outer out", "added out"]


def test_middleware_cannot_be_added_after_start() -> None:
    app = make_app()
    TestClient(app).get("/hello")
    with pytest.raises(ConfigurationError, match=r"^prow\.E020"):
        app.add_middleware(GZipMiddleware)


class Exploding:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise RuntimeError("middleware bug")
        await self.app(scope, receive, send)


def test_raw_middleware_that_raises_gives_500() -> None:
    app = make_app(middleware=[Middleware(Exploding)])
    response = TestClient(app, raise_server_exceptions=False).get("/hello")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "middleware bug" not in response.text
    with pytest.raises(RuntimeError, match="middleware bug"):
        TestClient(app).get("/hello")


def test_middleware_sees_lifespan_and_keeps_hooks_working() -> None:
    events: list[str] = []
    app = make_app(
        middleware=[Middleware(GZipMiddleware)], on_startup=[lambda: events.append("up")]
    )
    with TestClient(app) as client:
        assert client.get("/hello").json() == {"hello": "world"}
    assert events == ["up"]


def test_request_app_and_state() -> None:
    app = App()
    app.state.greeting = "hi"

    @app.get("/")
    async def index(request: Request) -> dict[str, Any]:
        return {"same": request.app is app, "greeting": request.app.state.greeting}

    assert TestClient(app).get("/").json() == {"same": True, "greeting": "hi"}


def test_docs_routes_exist_by_default_and_can_be_disabled() -> None:
    app = make_app()
    paths = {route.path for route in app.routes}
    assert {"/openapi.json", "/docs", "/redoc", "/hello", "/big", "/healthz", "/readyz"} <= paths
    client = TestClient(app)
    assert client.get("/openapi.json").json()["paths"]["/hello"]["get"]
    bare = make_app(
        openapi_url=None, docs_url=None, redoc_url=None, health_url=None, ready_url=None
    )
    assert [route.path for route in bare.routes] == ["/hello", "/big"]
    assert TestClient(bare).get("/openapi.json").status_code == 404


def test_two_apps_do_not_share_state() -> None:
    first = make_app()
    second = App()
    first.state.value = 1
    assert not hasattr(second.state, "value")
    assert TestClient(second).get("/hello").status_code == 404
    assert TestClient(first).get("/hello").status_code == 200


def test_max_body_size_is_enforced() -> None:
    app = App(max_body_size=10)

    @app.post("/upload")
    async def upload(request: Request) -> int:
        return len(await request.body())

    client = TestClient(app)
    assert client.post("/upload", content=b"12345").json() == 5
    response = client.post("/upload", content=b"x" * 11)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
