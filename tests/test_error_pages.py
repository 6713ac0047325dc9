"""Browsers get pages for errors (issue 19): a login redirect for 401, styled 403/404/500."""

from __future__ import annotations

from pathlib import Path

from prow import App, HTTPError, Request
from prow.templating import Templates
from prow.testing import TestClient

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def make_app() -> App:
    app = App(secret_key="k" * 40)

    @app.get("/account")
    async def account() -> None:
        raise HTTPError(401, "log in first")

    @app.get("/admin")
    async def admin() -> None:
        raise HTTPError(403, "staff only <b>")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    @app.post("/form")
    async def form(request: Request) -> str:
        return "ok"

    return app


def test_a_browser_gets_styled_pages_and_an_api_client_json() -> None:
    client = TestClient(make_app(), raise_server_exceptions=False)
    page = client.get("/missing", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Not Found</h1>" in page.text and "No route matches /missing" in page.text
    forbidden = client.get("/admin", headers=BROWSER)
    assert forbidden.status_code == 403 and "staff only &lt;b&gt;" in forbidden.text
    crash = client.get("/boom", headers=BROWSER)
    assert crash.status_code == 500 and "secret detail" not in crash.text
    assert "Something went wrong" in crash.text
    for accept in ({}, {"Accept": "*/*"}, {"Accept": "application/json, text/html"}):
        api = client.get("/missing", headers=accept)
        assert api.headers["content-type"] == "application/problem+json"


def test_401_on_a_page_redirects_to_the_login_with_next() -> None:
    app = make_app()
    client = TestClient(app)
    assert client.get("/account?tab=1", headers=BROWSER).status_code == 401  # no login page yet
    app.login_url = "/accounts/login"
    response = client.get("/account?tab=1", headers=BROWSER, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts/login?next=%2Faccount%3Ftab%3D1"
    assert client.get("/account").json()["status"] == 401  # an API client still gets JSON


def test_a_csrf_failure_on_a_form_is_a_page() -> None:
    client = TestClient(make_app())
    response = client.post("/form", data={"a": "1"}, headers={**BROWSER, "Cookie": "session=x"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "CSRF" in response.text


def test_templates_override_error_pages(tmp_path: Path) -> None:
    (tmp_path / "404.html").write_text("<p>Lost: {{ detail }} ({{ status }})</p>")
    (tmp_path / "error.html").write_text("<p>Error {{ status }}: {{ title }}</p>")
    app = make_app()
    app.install(Templates(tmp_path))
    client = TestClient(app)
    assert client.get("/nope", headers=BROWSER).text == "<p>Lost: No route matches /nope (404)</p>"
    assert client.get("/admin", headers=BROWSER).text == "<p>Error 403: Forbidden</p>"
