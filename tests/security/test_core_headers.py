"""Security headers: on by default on every kind of response, each overridable or removable."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Annotated

import pytest

from prow import (
    App,
    ConfigurationError,
    Cookie,
    Header,
    HTMLResponse,
    HTTPError,
    Request,
    Response,
    SecurityHeaders,
)
from prow.responses import FileResponse, StreamingResponse
from prow.staticfiles import StaticFiles
from prow.testing import TestClient
from prow.types import ASGIApp, Receive, Scope, Send

DEFAULTS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}


def make_app(tmp_path: Path, **kwargs: object) -> App:
    (tmp_path / "a.txt").write_text("file")
    app = App(**kwargs)  # type: ignore[arg-type]

    @app.get("/json")
    async def data() -> dict[str, int]:
        return {"a": 1}

    @app.get("/file")
    async def file() -> FileResponse:
        return FileResponse(tmp_path / "a.txt")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a", b"b"]))

    @app.get("/framed")
    async def framed() -> HTMLResponse:
        return HTMLResponse("<p>embed me</p>", headers={"X-Frame-Options": "SAMEORIGIN"})

    app.mount("/static", StaticFiles(directory=tmp_path))
    return app


@pytest.mark.parametrize("path", ["/json", "/file", "/stream", "/static/a.txt", "/missing"])
def test_defaults_on_every_response(tmp_path: Path, path: str) -> None:
    response = TestClient(make_app(tmp_path)).get(path)
    for name, value in DEFAULTS.items():
        assert response.headers[name] == value, (path, name)
    assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS
    if path == "/missing":  # prow's own error answer carries its own strict policy
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
    else:
        assert "content-security-policy" not in response.headers


def test_hsts_only_on_https(tmp_path: Path) -> None:
    client = TestClient(make_app(tmp_path), base_url="https://testserver")
    hsts = client.get("/json").headers["strict-transport-security"]
    assert hsts == "max-age=31536000; includeSubDomains"


def test_a_header_set_by_the_response_wins(tmp_path: Path) -> None:
    response = TestClient(make_app(tmp_path)).get("/framed")
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_each_header_can_be_changed_or_removed(tmp_path: Path) -> None:
    config = SecurityHeaders(
        frame_options=None,
        referrer_policy="no-referrer",
        hsts="max-age=60",
        content_security_policy="default-src 'self'",
        extra=(("Permissions-Policy", "camera=()"),),
    )
    client = TestClient(make_app(tmp_path, security_headers=config), base_url="https://testserver")
    headers = client.get("/json").headers
    assert "x-frame-options" not in headers
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["strict-transport-security"] == "max-age=60"
    assert headers["content-security-policy"] == "default-src 'self'"
    assert headers["permissions-policy"] == "camera=()"


def test_csp_gets_frame_ancestors_when_framing_is_denied(tmp_path: Path) -> None:
    config = SecurityHeaders(content_security_policy="default-src 'self';")
    headers = TestClient(make_app(tmp_path, security_headers=config)).get("/json").headers
    assert headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"


def test_a_csp_from_directives_and_the_strict_preset(tmp_path: Path) -> None:
    directives = {"default-src": "'self'", "img-src": ["'self'", "data:"]}
    config = SecurityHeaders(content_security_policy=directives)
    headers = TestClient(make_app(tmp_path, security_headers=config)).get("/json").headers
    expected = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    assert headers["content-security-policy"] == expected
    strict = SecurityHeaders(content_security_policy=SecurityHeaders.STRICT_CSP)
    policy = TestClient(make_app(tmp_path, security_headers=strict)).get("/json").headers
    assert policy["content-security-policy"] == (
        "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


def test_prows_own_pages_send_a_strict_csp_whatever_the_apps() -> None:
    # The app's policy would block the docs pages' scripts: theirs, made for them, wins.
    app = App(security_headers=SecurityHeaders(content_security_policy="default-src 'none'"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom <script>")

    client = TestClient(app, raise_server_exceptions=False)
    docs = client.get("/docs").headers["content-security-policy"]
    assert "script-src 'self'" in docs and "'unsafe-inline'" not in docs
    assert "frame-ancestors 'none'" in docs
    redoc = client.get("/redoc").headers["content-security-policy"]
    assert "script-src 'self'" in redoc and "worker-src 'self' blob:" in redoc
    problem = client.get("/nowhere").headers["content-security-policy"]
    assert problem.startswith("default-src 'none'") and "script-src" not in problem


def test_the_debug_page_allows_only_its_own_style() -> None:
    app = App(debug=True)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("<script>alert(1)</script>")

    page = TestClient(app, raise_server_exceptions=False).get(
        "/boom", headers={"accept": "text/html"}
    )
    assert page.status_code == 500
    policy = page.headers["content-security-policy"]
    style = page.text.split("<style>")[1].split("</style>")[0]
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert policy.startswith("default-src 'none'") and f"style-src 'sha256-{digest}'" in policy
    assert "script-src" not in policy and "<script>alert" not in page.text


# -- Cache-Control: no-store on personal answers ----------------------------------------------


def cache_app(**kwargs: object) -> App:
    app = App(**kwargs)  # type: ignore[arg-type]

    @app.get("/page")
    async def page(request: Request) -> str:
        return "hello" if request.headers.get("authorization") else "same for everyone"

    @app.get("/public")
    async def public() -> str:  # sees no credentials: its answer is the same for everyone
        return "same for everyone"

    @app.get("/token")
    async def token(authorization: Annotated[str, Header()] = "") -> str:
        return "hello" if authorization else "same for everyone"

    @app.get("/session")
    async def session(session: Annotated[str, Cookie()] = "") -> str:
        return "hello" if session else "same for everyone"

    @app.get("/public-error")
    async def public_error() -> str:
        raise HTTPError(404, "gone")

    @app.get("/cookie")
    async def cookie(response: Response) -> str:
        response.set_cookie("seen", "1")
        return "remembered"

    @app.get("/cached")
    async def cached() -> Response:
        return Response(b"public", headers={"Cache-Control": "public, max-age=60"})

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(iter([request.cookies.get("session", "a").encode()]))

    return app


@pytest.mark.parametrize(
    ("path", "headers", "expected"),
    [
        ("/page", {}, None),
        ("/cookie", {}, "no-store"),
        ("/page", {"Authorization": "Bearer abc"}, "no-store"),
        ("/page", {"X-API-Key": "k"}, "no-store"),
        ("/page", {"Cookie": "session=abc"}, "no-store"),
        ("/stream", {"Cookie": "session=abc"}, "no-store"),
        ("/missing", {"Authorization": "Bearer abc"}, "no-store"),
        ("/public", {}, None),
        ("/public", {"Authorization": "Bearer abc"}, None),
        ("/public", {"Cookie": "session=abc"}, None),
        ("/token", {"Authorization": "Bearer abc"}, "no-store"),
        ("/session", {"Cookie": "session=abc"}, "no-store"),
        ("/public-error", {"Cookie": "session=abc"}, "no-store"),
        ("/cached", {"Authorization": "Bearer abc"}, "public, max-age=60"),
    ],
)
def test_personal_answers_are_not_stored_by_shared_caches(
    path: str, headers: dict[str, str], expected: str | None
) -> None:
    answer = TestClient(cache_app()).get(path, headers=headers)
    assert answer.headers.get_list("cache-control") == ([expected] if expected else [])


def test_no_store_can_be_turned_off() -> None:
    config = SecurityHeaders(no_store_credentialed=False)
    answer = TestClient(cache_app(security_headers=config)).get("/cookie")
    assert "cache-control" not in answer.headers


def test_all_headers_off(tmp_path: Path) -> None:
    headers = TestClient(make_app(tmp_path, security_headers=None)).get("/json").headers
    assert not set(DEFAULTS) & set(headers)


def test_a_wsgi_app_gets_them_too() -> None:
    def wsgi(environ: dict[str, object], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [b"hi"]

    app = App()
    app.mount("/legacy", wsgi)
    response = TestClient(app).get("/legacy/")
    assert response.text == "hi"
    assert response.headers["x-content-type-options"] == "nosniff"


# -- the secret key --------------------------------------------------------------------------


GOOD_KEY = "k" * 10 + "Zq8yX1vL0pR3tW6nM9bC4dF7gH2jK5s"


def test_signing_key_per_purpose() -> None:
    app = App(secret_key=GOOD_KEY)
    assert app.secret_key == GOOD_KEY
    sessions, csrf = app.signing_key("sessions"), app.signing_key("csrf")
    assert len(sessions) == 32 and sessions != csrf
    assert App(secret_key=GOOD_KEY).signing_key("sessions") == sessions  # stable across workers


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "no secret_key is set"),
        ("changeme", "looks like a placeholder"),
        ("change-me-" + "k" * 40, "looks like a placeholder"),
        ("ab" * 30, "only 2 different characters"),
        ("short-but-random-8fQ", "characters, fewer than 32"),
    ],
)
def test_missing_or_weak_key_stops_start_up(key: str | None, reason: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        App(secret_key=key).signing_key("sessions")
    assert info.value.code == "prow.E100"
    assert reason in info.value.message and "PROW_SECRET_KEY" in info.value.message


def test_debug_without_key_uses_a_random_key_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    app = App(debug=True)
    first = app.signing_key("sessions")
    assert app.signing_key("sessions") == first
    assert app.signing_key("csrf") != first
    warnings = [r for r in caplog.records if "random key" in r.getMessage()]
    assert len(warnings) == 1
    assert App(debug=True).signing_key("sessions") != first  # per process and app


def test_a_middleware_asking_for_the_key_fails_at_start_up() -> None:
    class NeedsKey:
        def __init__(self, app: object) -> None:
            self.app = app

        async def __call__(self, scope: object, receive: object, send: object) -> None:
            await self.app(scope, receive, send)  # type: ignore[operator]

        def setup_app(self, app: App) -> None:
            app.signing_key("sessions")

    app = App(middleware=[NeedsKey])
    with pytest.raises(ConfigurationError, match=r"prow.E100"), TestClient(app):
        pass


def test_a_header_changed_after_the_response_was_made_wins() -> None:
    app = App()

    @app.get("/edited")
    async def edited() -> HTMLResponse:
        response = HTMLResponse("<p>framed by us</p>")
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    @app.get("/injected")
    async def injected(response: Response) -> dict[str, str]:
        response.headers["Referrer-Policy"] = "no-referrer"
        return {"ok": "yes"}

    client = TestClient(app)
    edited_answer = client.get("/edited")
    assert edited_answer.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert edited_answer.headers["x-content-type-options"] == "nosniff"
    injected_answer = client.get("/injected")
    assert injected_answer.headers.get_list("referrer-policy") == ["no-referrer"]
    assert injected_answer.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("name", ["Content-Type", "set-cookie", "Access-Control-Allow-Origin"])
def test_extra_headers_cannot_be_ones_responses_set(name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SecurityHeaders(extra=((name, "x"),))
    assert caught.value.code == "prow.E102" and name in str(caught.value)


def test_a_mounted_app_and_a_raw_asgi_answer_carry_the_security_headers() -> None:
    async def raw_asgi(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-raw", b"1")]})
        await send({"type": "http.response.body", "body": b"raw"})

    class RawAnswer:
        """Answers a path itself, without any prow response class."""

        def __init__(self, inner: ASGIApp) -> None:
            self.inner = inner

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"] == "/raw-middleware":
                await raw_asgi(scope, receive, send)
                return
            await self.inner(scope, receive, send)

    app = App()
    app.mount("/mounted", raw_asgi)
    app.add_middleware(RawAnswer)
    with TestClient(app) as client:
        for path in ("/mounted/anything", "/raw-middleware"):
            answer = client.get(path)
            assert answer.text == "raw" and answer.headers["x-raw"] == "1"
            for name, value in DEFAULTS.items():
                assert answer.headers[name] == value, (path, name)
