"""Templates on an app with Auth: ``user`` is looked up for the pages that show it.

The handlers below never ask for ``CurrentUser``/``OptionalUser``: the template alone decides
whether the user is looked up. Lookups are counted as the SQL statements that read
``auth_user``, seen by the app's real engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from auth.conftest import PASSWORD, bearer, build_app
from prow import App, HTTPError, Request
from prow.auth import OptionalUser, get_user
from prow.db import database
from prow.responses import HTMLResponse, Response
from prow.templating import Templates
from prow.testing import TestClient

CREDENTIALS = {"username": "ann", "password": PASSWORD}
LAYOUT = (
    "<nav>{% if user %}{{ user.username }}{% else %}Log in{% endif %}</nav>"
    "{% block content %}{% endblock %}"
)
PAGES = {
    "base.html": LAYOUT,
    "page.html": '{% extends "base.html" %}{% block content %}<p>{{ title }}</p>{% endblock %}',
    "plain.html": "<p>{{ title }}</p>",
    "stream.html": "{% extends 'base.html' %}{% block content %}"
    "{% for word in words() %}<p>{{ word }}</p>{% endfor %}{% endblock %}",
}


class Lookups:
    """The statements that read the user table, on the engine of the app's event loop."""

    def __init__(self, app: App) -> None:
        self.statements: list[str] = []

        @app.on_startup
        def listen() -> None:
            engine = database(app).engine.sync_engine
            event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if "auth_user" in statement:
            self.statements.append(statement)

    def count(self, client: TestClient, path: str, **kw: Any) -> tuple[Any, int]:
        """``client.get(path)``, and how many user lookups it made."""
        self.statements.clear()
        answer = client.get(path, **kw)
        return answer, len(self.statements)


def _site(app: App, folder: Path) -> Lookups:
    for name, text in PAGES.items():
        (folder / name).write_text(text, encoding="utf-8")
    templates = Templates(folder)
    async_templates = Templates(folder, enable_async=True)

    @app.get("/page")
    async def page(request: Request) -> HTMLResponse:
        return templates.render(request, "page.html", {"title": "Home"})

    @app.get("/page-async")
    async def page_async(request: Request) -> HTMLResponse:
        return await templates.render_async(request, "page.html", {"title": "Home"})

    @app.get("/page-sync")
    def page_sync(request: Request) -> HTMLResponse:
        return templates.render(request, "page.html", {"title": "Home"})

    @app.get("/page-async-env")
    async def page_async_env(request: Request) -> HTMLResponse:
        async def words() -> Any:
            yield "Home"

        context = {"words": words}
        return await async_templates.render_async(request, "stream.html", context)

    @app.get("/plain")
    async def plain(request: Request) -> HTMLResponse:
        return templates.render(request, "plain.html", {"title": "Home"})

    @app.get("/plain-async")
    async def plain_async(request: Request) -> HTMLResponse:
        return await templates.render_async(request, "plain.html", {"title": "Home"})

    @app.get("/asked")
    async def asked(request: Request, user: OptionalUser) -> HTMLResponse:
        return templates.render(request, "page.html", {"title": "Home"})

    @app.get("/given")
    async def given(request: Request) -> HTMLResponse:
        return templates.render(request, "page.html", {"title": "Home", "user": None})

    @app.get("/peek")
    async def peek(request: Request) -> str:
        response = templates.render(request, "page.html", {"title": "Home"})
        try:
            return str(response.body)
        except AttributeError as exc:
            return str(exc)

    @app.get("/broken")
    async def broken(request: Request) -> HTMLResponse:
        return templates.render(request, "page.html", {"title": Boom()})

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPError)
        return templates.render(request, "page.html", {"title": exc.detail}, status_code=401)

    @app.get("/csrf")
    async def csrf(request: Request) -> str:
        return request.csrf_token()

    app.exception_handlers[401] = refused
    return Lookups(app)


class Boom:
    def __str__(self) -> str:
        raise RuntimeError("cannot show this")


@pytest.fixture
def site(any_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Lookups]]:
    app = build_app(any_url)
    lookups = _site(app, tmp_path)
    with TestClient(app) as client:
        yield client, lookups


SHOWING_USER = ["/page", "/page-async", "/page-sync", "/page-async-env"]


@pytest.mark.parametrize("path", SHOWING_USER)
def test_logged_in_user_shows_on_a_page_whose_handler_did_not_ask(
    site: tuple[TestClient, Lookups], path: str
) -> None:
    client, lookups = site
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
    answer, queries = lookups.count(client, path)
    assert answer.status_code == 200
    assert answer.text == "<nav>ann</nav><p>Home</p>"
    assert answer.headers["content-length"] == str(len(answer.content))
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert queries == 1


@pytest.mark.parametrize("path", SHOWING_USER)
def test_anonymous_visitor_sees_the_anonymous_branch(
    site: tuple[TestClient, Lookups], path: str
) -> None:
    client, lookups = site
    answer, queries = lookups.count(client, path)
    assert answer.text == "<nav>Log in</nav><p>Home</p>"
    assert queries == 0  # no session, no token: nothing to look up


def test_logged_out_visitor_is_anonymous_again(site: tuple[TestClient, Lookups]) -> None:
    client, _ = site
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
    assert client.get("/page").text == "<nav>ann</nav><p>Home</p>"
    csrf = {"X-CSRF-Token": client.get("/csrf").json()}
    assert client.post("/auth/logout", headers=csrf).status_code == 204
    assert client.get("/page").text == "<nav>Log in</nav><p>Home</p>"


@pytest.mark.parametrize("path", ["/plain", "/plain-async"])
def test_page_without_user_makes_no_lookup(site: tuple[TestClient, Lookups], path: str) -> None:
    client, lookups = site
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
    answer, queries = lookups.count(client, path)
    assert answer.text == "<p>Home</p>"
    assert queries == 0
    _, queries = lookups.count(client, "/page")
    assert queries == 1  # the same visitor, on a page that shows the user


def test_user_resolved_by_the_handler_is_not_looked_up_again(
    site: tuple[TestClient, Lookups],
) -> None:
    client, lookups = site
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
    answer, queries = lookups.count(client, "/asked")
    assert answer.text == "<nav>ann</nav><p>Home</p>"
    assert queries == 1  # OptionalUser's lookup, reused by the template


def test_user_given_in_the_context_is_kept(site: tuple[TestClient, Lookups]) -> None:
    client, lookups = site
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
    answer, queries = lookups.count(client, "/given")
    assert answer.text == "<nav>Log in</nav><p>Home</p>"
    assert queries == 0


def test_body_of_a_page_waiting_for_its_user_is_not_known_before_it_is_sent(
    site: tuple[TestClient, Lookups],
) -> None:
    client, _ = site
    assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
    assert "use `await templates.render_async(...)`" in client.get("/peek").json()


@pytest.mark.parametrize("path", ["/page", "/page-async"])
def test_a_public_page_shows_a_wrong_token_as_anonymous(
    site: tuple[TestClient, Lookups], path: str
) -> None:
    # The page does not need a user: credentials that do not check out make the visitor
    # anonymous there (as an expired session does), instead of refusing the whole page.
    client, lookups = site
    answer, queries = lookups.count(client, path, headers=bearer("not-a-token"))
    assert answer.status_code == 200
    assert answer.text.startswith("<nav>Log in</nav>")
    assert queries == 0


def test_a_handler_that_asks_for_the_user_still_refuses_a_wrong_token(
    site: tuple[TestClient, Lookups],
) -> None:
    # OptionalUser refuses wrong credentials; the 401 page is a template showing ``user``
    # too, and the failed lookup is not tried again.
    client, lookups = site
    answer, queries = lookups.count(client, "/asked", headers=bearer("not-a-token"))
    assert answer.status_code == 401
    assert answer.text.startswith("<nav>Log in</nav><p>invalid token: ")
    assert queries == 0


def test_template_error_on_a_page_waiting_for_its_user_is_a_clean_500(
    sqlite_url: str, tmp_path: Path
) -> None:
    app = build_app(sqlite_url)
    _site(app, tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
        answer = client.get("/broken")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "cannot show this" not in answer.text
    with TestClient(app) as client, pytest.raises(RuntimeError, match="cannot show this"):
        client.get("/broken")


def test_get_user_outside_a_handler(make_app: Callable[..., App]) -> None:
    app = make_app()

    async def who(request: Request, exc: Exception) -> Response:
        user = await get_user(request)
        return HTMLResponse(user.username if user else "nobody", status_code=404)

    app.exception_handlers[404] = who
    with TestClient(app) as client:
        assert client.get("/nowhere").text == "nobody"
        assert client.post("/auth/login", json=CREDENTIALS).status_code == 200
        assert client.get("/nowhere").text == "ann"
