from __future__ import annotations

import httpx
import pytest

from prow.middleware import CORSMiddleware, Middleware
from prow.types import Receive, Scope, Send

pytestmark = pytest.mark.anyio


async def plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers every request with 200 "hello" and a header of its own."""
    assert scope["type"] == "http"
    headers = [(b"content-type", b"text/plain"), (b"x-app", b"1")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


def client(**options: object) -> httpx.AsyncClient:
    app = CORSMiddleware(plain_app, **options)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def preflight_headers(
    origin: str = "https://a.example", method: str = "GET", headers: str | None = None
) -> dict[str, str]:
    result = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        result["Access-Control-Request-Headers"] = headers
    return result


async def test_request_without_origin_is_untouched() -> None:
    async with client(allow_origins=["*"]) as http:
        response = await http.get("/")
    assert response.text == "hello"
    assert "access-control-allow-origin" not in response.headers
    assert "vary" not in response.headers


async def test_simple_request_from_listed_origin_echoes_it_and_varies() -> None:
    async with client(allow_origins=["https://a.example"], expose_headers=["X-App"]) as http:
        response = await http.get("/", headers={"Origin": "https://a.example"})
    assert response.text == "hello"
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["vary"] == "Origin"
    assert response.headers["access-control-expose-headers"] == "X-App"
    assert response.headers["x-app"] == "1"
    assert "access-control-allow-credentials" not in response.headers


async def test_simple_request_with_wildcard_sends_star_without_vary() -> None:
    async with client(allow_origins=["*"]) as http:
        response = await http.get("/", headers={"Origin": "https://any.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "vary" not in response.headers


async def test_wildcard_with_credentials_echoes_the_origin_never_star() -> None:
    async with client(allow_origins=["*"], allow_credentials=True) as http:
        simple = await http.get("/", headers={"Origin": "https://any.example"})
        preflight = await http.options("/", headers=preflight_headers("https://any.example"))
    for response in (simple, preflight):
        assert response.headers["access-control-allow-origin"] == "https://any.example"
        assert response.headers["access-control-allow-credentials"] == "true"
        assert response.headers["vary"] == "Origin"


async def test_simple_request_from_other_origin_gets_no_cors_headers() -> None:
    async with client(allow_origins=["https://a.example"]) as http:
        response = await http.get("/", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


async def test_vary_merges_with_the_apps_own_vary() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"vary", b"Accept-Encoding")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=CORSMiddleware(app, allow_origins=["https://a.example"]))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/", headers={"Origin": "https://a.example"})
    assert response.headers.get_list("vary") == ["Accept-Encoding, Origin"]


async def test_origin_regex_matches_whole_origin() -> None:
    async with client(allow_origin_regex=r"https://[a-z]+\.example\.com") as http:
        good = await http.get("/", headers={"Origin": "https://app.example.com"})
        bad = await http.get("/", headers={"Origin": "https://app.example.com.evil.test"})
    assert good.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in bad.headers


async def test_preflight_is_answered_without_calling_the_app() -> None:
    options = {
        "allow_origins": ["https://a.example"],
        "allow_methods": ["GET", "post"],
        "allow_headers": ["X-Token"],
        "max_age": 120,
    }
    async with client(**options) as http:
        response = await http.options(
            "/", headers=preflight_headers(method="POST", headers="x-token, Content-Type")
        )
    assert response.status_code == 200
    assert response.text == "OK"
    assert "x-app" not in response.headers
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"accept", "accept-language", "content-language", "content-type", "x-token"}
    assert response.headers["access-control-max-age"] == "120"
    assert response.headers["vary"] == "Origin"


async def test_preflight_with_wildcards_echoes_the_requested_method_and_headers() -> None:
    options = {"allow_origins": ["*"], "allow_methods": ["*"], "allow_headers": ["*"]}
    async with client(**options) as http:
        response = await http.options(
            "/", headers=preflight_headers(method="PROPFIND", headers="X-One, X-Two")
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "PROPFIND"
    assert response.headers["access-control-allow-headers"] == "x-one, x-two"


async def test_preflight_rejects_unknown_origin() -> None:
    async with client(allow_origins=["https://a.example"]) as http:
        response = await http.options("/", headers=preflight_headers("https://evil.example"))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert "origin 'https://evil.example' is not allowed" in response.text
    assert "method" not in response.text
    assert "access-control-allow-origin" not in response.headers


async def test_preflight_rejects_unlisted_method() -> None:
    async with client(allow_origins=["*"], allow_methods=["GET"]) as http:
        response = await http.options("/", headers=preflight_headers(method="DELETE"))
    assert response.status_code == 400
    assert "method 'DELETE' is not allowed" in response.text
    assert "origin" not in response.text


async def test_preflight_rejects_unlisted_headers() -> None:
    async with client(allow_origins=["*"], allow_headers=["X-Token"]) as http:
        response = await http.options(
            "/", headers=preflight_headers(headers="X-Token, X-Secret, Accept")
        )
    assert response.status_code == 400
    assert "headers 'x-secret' are not allowed" in response.text


async def test_preflight_names_every_failure_at_once() -> None:
    async with client(allow_origins=["https://a.example"]) as http:
        response = await http.options(
            "/", headers=preflight_headers("https://b.example", "PUT", "X-Other")
        )
    assert response.status_code == 400
    for part in ("origin 'https://b.example'", "method 'PUT'", "headers 'x-other'"):
        assert part in response.text


async def test_options_without_request_method_reaches_the_app() -> None:
    async with client(allow_origins=["https://a.example"]) as http:
        response = await http.options("/", headers={"Origin": "https://a.example"})
    assert response.text == "hello"
    assert response.headers["access-control-allow-origin"] == "https://a.example"


async def test_non_http_scopes_pass_through() -> None:
    seen = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    middleware = CORSMiddleware(app, allow_origins=["*"])
    scope = {"type": "websocket", "headers": [(b"origin", b"https://evil.example")]}
    await middleware(scope, None, None)  # type: ignore[arg-type]
    await middleware({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["websocket", "lifespan"]


def test_middleware_spec_builds_and_unpacks() -> None:
    spec = Middleware(CORSMiddleware, allow_origins=["https://a.example"], max_age=5)
    cls, args, kwargs = spec
    assert cls is CORSMiddleware
    assert args == ()
    assert kwargs == {"allow_origins": ["https://a.example"], "max_age": 5}
    built = spec.build(plain_app)
    assert isinstance(built, CORSMiddleware)
    assert built.app is plain_app
    assert "CORSMiddleware" in repr(spec)
    assert "max_age=5" in repr(spec)
