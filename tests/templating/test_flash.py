"""Flash messages, post/redirect/get and CSRF tokens in rendered pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from prow import App, Request
from prow.responses import HTMLResponse, RedirectResponse, Response
from prow.templating import Templates, flash, get_flashed_messages, redirect_to
from prow.testing import TestClient
from templating._helpers import session_app

Write = Callable[[str, str], Path]

LAYOUT = (
    "{% for category, message in get_flashed_messages(with_categories=true) %}"
    '<p class="{{ category }}">{{ message }}</p>{% endfor %}'
    "{% for m in get_flashed_messages() %}[{{ m }}]{% endfor %}"
)


def flash_app(write: Write) -> App:
    templates = Templates(write("home.html", LAYOUT))
    app = session_app()

    @app.get("/")
    async def home(request: Request) -> HTMLResponse:
        return templates.render(request, "home.html")

    @app.post("/save", csrf=False)
    async def save(request: Request) -> RedirectResponse:
        flash(request, "Saved <b>item</b>", "success")
        flash(request, "Check the price")
        return redirect_to(request, "home")

    @app.get("/errors")
    async def errors(request: Request) -> list[str]:
        return get_flashed_messages(request, category_filter=["error"])

    @app.post("/both", csrf=False)
    async def both(request: Request) -> Response:
        flash(request, "bad", "error")
        flash(request, "fine", "info")
        return Response()

    return app


def test_flash_is_shown_once_after_redirect(write: Write) -> None:
    client = TestClient(flash_app(write))
    page = client.post("/save")  # follows the 303 to GET /
    assert page.history[0].status_code == 303
    assert page.history[0].headers["location"] == "/"
    assert '<p class="success">Saved &lt;b&gt;item&lt;/b&gt;</p>' in page.text
    assert '<p class="info">Check the price</p>' in page.text
    # The second call in the same render still sees them (layout and page may both ask).
    assert "[Saved &lt;b&gt;item&lt;/b&gt;][Check the price]" in page.text
    assert client.get("/").text == ""  # shown once


def test_category_filter_keeps_the_others_out(write: Write) -> None:
    client = TestClient(flash_app(write))
    client.post("/both")
    assert client.get("/errors").json() == ["bad"]
    assert client.get("/errors").json() == []


def test_without_a_session_no_messages_and_flash_explains() -> None:
    app = App()

    @app.get("/")
    async def home(request: Request) -> list[str]:
        return get_flashed_messages(request)

    @app.get("/flash")
    async def flash_it(request: Request) -> None:
        flash(request, "x")

    client = TestClient(app)
    assert client.get("/").json() == []
    with pytest.raises(RuntimeError, match="session middleware"):
        client.get("/flash")


def test_redirect_to_app_and_request_with_params() -> None:
    app = App()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/go")
    async def go(request: Request) -> RedirectResponse:
        return redirect_to(request, "item", item_id=7)

    assert redirect_to(app, "item", item_id=5).headers["location"] == "/items/5"
    response = TestClient(app, follow_redirects=False).post("/go")
    assert response.status_code == 303
    assert response.headers["location"] == "/items/7"


def test_redirect_to_keeps_the_mount_prefix() -> None:
    inner = App()

    @inner.get("/done")
    async def done() -> str:
        return "done"

    @inner.post("/go")
    async def go(request: Request) -> RedirectResponse:
        return redirect_to(request, "done")

    outer = App()
    outer.mount("/shop", inner)
    response = TestClient(outer, follow_redirects=False).post("/shop/go")
    assert response.headers["location"] == "/shop/done"


def test_redirect_to_unknown_route_names_the_known_ones() -> None:
    app = App()

    @app.get("/")
    async def home() -> str:
        return ""

    with pytest.raises(LookupError, match=r"no route is named 'nope'.*home"):
        redirect_to(app, "nope")


# -- CSRF tokens in pages --------------------------------------------------------------------

FORM = '<form method="post">{{ csrf_input() }}<input name="title"></form>|{{ csrf_token() }}'


def csrf_app(write: Write) -> App:
    templates = Templates(write("form.html", FORM))
    app = session_app()

    @app.get("/form")
    async def form(request: Request) -> HTMLResponse:
        return templates.render(request, "form.html")

    @app.post("/form")
    async def submit(request: Request) -> dict[str, str]:
        data = await request.form()
        return {"title": str(data.get("title"))}

    return app


def test_csrf_input_is_in_the_page_and_accepted(write: Write) -> None:
    client = TestClient(csrf_app(write))
    page = client.get("/form")
    match = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page.text)
    assert match is not None
    token = match.group(1)
    assert page.text.split("|")[1] != token  # masked anew on every call
    assert "csrftoken" in client.cookies
    ok = client.post("/form", data={"csrf_token": token, "title": "T"})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"title": "T"}


def test_post_without_the_token_is_refused(write: Write) -> None:
    client = TestClient(csrf_app(write))
    client.get("/form")
    refused = client.post("/form", data={"title": "T"})
    assert refused.status_code == 403
    assert "CSRF token missing" in refused.json()["detail"]
