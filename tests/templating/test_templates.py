"""Templates: rendering, escaping, globals, blocks for htmx, errors, async, caching."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from prow import App, ConfigurationError, Request
from prow.apps import create_app
from prow.responses import HTMLResponse
from prow.settings import Settings
from prow.staticfiles import StaticFiles
from prow.templating import Templates, is_htmx
from prow.testing import TestClient

Write = Callable[[str, str], Path]
HOSTILE = "\"'><script>alert(1)</script>"


def page_app(templates: Templates, name: str, context: dict[str, Any], **kw: Any) -> App:
    app = App(**kw)

    @app.get("/")
    async def page(request: Request) -> HTMLResponse:
        return templates.render(request, name, context)

    return app


# -- rendering and escaping ------------------------------------------------------------------


def test_render_returns_html_with_status_and_headers(write: Write) -> None:
    templates = Templates(write("hello.html", "<p>Hello {{ name }}</p>"))
    app = App()

    @app.get("/")
    async def page(request: Request) -> HTMLResponse:
        return templates.render(
            request, "hello.html", {"name": "Ada"}, status_code=201, headers={"X-Page": "1"}
        )

    response = TestClient(app).get("/")
    assert response.status_code == 201
    assert response.text == "<p>Hello Ada</p>"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["x-page"] == "1"


def test_hostile_context_is_escaped_in_text_and_attributes(write: Write) -> None:
    folder = write("x.html", "<a title=\"{{ v }}\" data-x='{{ v }}'>{{ v }}</a>")
    write("x.svg", "<text>{{ v }}</text>")
    write("x.xml", "<v>{{ v }}</v>")
    templates = Templates(folder)
    client = TestClient(page_app(templates, "x.html", {"v": HOSTILE}))
    text = client.get("/").text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "&#34;&#39;&gt;" in text  # quotes cannot close the attribute
    for name in ("x.svg", "x.xml"):
        out = TestClient(page_app(templates, name, {"v": HOSTILE})).get("/").text
        assert "<script>" not in out


def test_string_templates_are_escaped_and_text_templates_are_not(write: Write) -> None:
    templates = Templates(write("mail.txt", "Hi {{ v }}"))
    assert "<script>" not in templates.env.from_string("{{ v }}").render(v=HOSTILE)
    assert templates.env.get_template("mail.txt").render(v="<b>") == "Hi <b>"


def test_autoescape_cannot_be_turned_off(write: Write) -> None:
    with pytest.raises(ConfigurationError, match=r"prow\.E181.*\|safe"):
        Templates(write("a.html", ""), autoescape=False)


def test_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"prow\.E180.*nowhere"):
        Templates(tmp_path / "nowhere")


def test_several_directories_search_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "page.html").write_text("first")
    (second / "page.html").write_text("second")
    (second / "only.html").write_text("only in b")
    templates = Templates([first, second])
    assert TestClient(page_app(templates, "page.html", {})).get("/").text == "first"
    assert TestClient(page_app(templates, "only.html", {})).get("/").text == "only in b"


def test_request_user_and_context_processors_reach_templates(write: Write) -> None:
    folder = write("who.html", "{{ request.url.path }}|{{ user }}|{{ site }}|{{ extra }}")
    templates = Templates(folder, context_processors=[lambda request: {"site": "prow"}])
    app = page_app(templates, "who.html", {"extra": "x"})

    class SetUser:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            scope["user"] = "ada"
            await self.app(scope, receive, send)

    app.add_middleware(SetUser)
    assert TestClient(app).get("/").text == "/|ada|prow|x"


def test_user_is_none_without_auth(write: Write) -> None:
    templates = Templates(write("who.html", "{{ user }}"))
    assert TestClient(page_app(templates, "who.html", {})).get("/").text == "None"


def test_without_auth_user_is_never_looked_up_and_the_body_is_known_at_once(
    write: Write,
) -> None:
    # An app without prow.auth has no user to find: both render methods draw at once.
    folder = write("who.html", "{% if user %}{{ user }}{% else %}anonymous{% endif %}")
    templates = Templates(folder)
    app = App()

    @app.get("/sync")
    async def sync_page(request: Request) -> str:
        return templates.render(request, "who.html").body.decode()

    @app.get("/async")
    async def async_page(request: Request) -> str:
        response = await templates.render_async(request, "who.html")
        return response.body.decode() + "|" + str("user" in request.scope)

    client = TestClient(app)
    assert client.get("/sync").json() == "anonymous"
    assert client.get("/async").json() == "anonymous|False"


# -- url_for and static ----------------------------------------------------------------------


def test_url_for_and_static_in_templates(write: Write, tmp_path: Path) -> None:
    folder = write("links.html", "{{ url_for('item', item_id=3) }} {{ static('css/site.css') }}")
    (tmp_path / "static").mkdir()
    templates = Templates(folder)
    app = page_app(templates, "links.html", {})

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.mount("/static", StaticFiles(directory=tmp_path / "static"), name="static")
    text = TestClient(app).get("/").text
    assert text == "http://testserver/items/3 http://testserver/static/css/site.css"


def test_static_mount_name_is_configurable(write: Write, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    templates = Templates(write("s.html", "{{ static('a.js') }}"), static_name="assets")
    app = page_app(templates, "s.html", {})
    app.mount("/assets", StaticFiles(directory=tmp_path / "assets"), name="assets")
    assert TestClient(app).get("/").text == "http://testserver/assets/a.js"


def test_static_without_a_mount_names_the_fix(write: Write) -> None:
    templates = Templates(write("s.html", "{{ static('a.js') }}"))
    app = page_app(templates, "s.html", {}, debug=True)
    response = TestClient(app, raise_server_exceptions=False).get("/")
    assert response.status_code == 500
    assert "prow.E183" in response.text
    assert "app.mount" in response.text


# -- htmx blocks -----------------------------------------------------------------------------

LIST_PAGE = """<html>{% block content %}<h1>Items</h1>\
{% block results %}<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>{% endblock %}\
{% endblock %}</html>"""


def htmx_app(write: Write) -> App:
    templates = Templates(write("list.html", LIST_PAGE))
    app = App()

    @app.get("/items")
    async def items(request: Request) -> HTMLResponse:
        context = {"items": ["a", "<b>"]}
        return templates.render(request, "list.html", context, htmx_block="results")

    @app.get("/fragment")
    async def fragment(request: Request) -> HTMLResponse:
        return templates.render(request, "list.html", {"items": [1]}, block="results")

    @app.get("/nope")
    async def nope(request: Request) -> HTMLResponse:
        return templates.render(request, "list.html", {"items": []}, block="missing")

    @app.get("/check")
    async def check(request: Request) -> dict[str, bool]:
        return {"htmx": is_htmx(request)}

    return app


def test_htmx_request_gets_only_the_block(write: Write) -> None:
    client = TestClient(htmx_app(write))
    full = client.get("/items")
    assert full.text.startswith("<html><h1>Items</h1><ul>")
    assert full.headers["vary"] == "HX-Request"
    part = client.get("/items", headers={"HX-Request": "true"})
    assert part.text == "<ul><li>a</li><li>&lt;b&gt;</li></ul>"
    assert part.headers["vary"] == "HX-Request"


def test_boosted_htmx_request_gets_the_full_page(write: Write) -> None:
    client = TestClient(htmx_app(write))
    boosted = client.get("/items", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert boosted.text.startswith("<html>")


def test_block_renders_a_fragment_always(write: Write) -> None:
    client = TestClient(htmx_app(write))
    assert client.get("/fragment").text == "<ul><li>1</li></ul>"


def test_unknown_block_names_the_known_ones(write: Write) -> None:
    client = TestClient(htmx_app(write), raise_server_exceptions=False)
    with pytest.raises(LookupError, match="no block 'missing'; its blocks: content, results"):
        TestClient(htmx_app(write)).get("/nope")
    assert client.get("/nope").status_code == 500


def test_is_htmx(write: Write) -> None:
    client = TestClient(htmx_app(write))
    assert client.get("/check").json() == {"htmx": False}
    assert client.get("/check", headers={"HX-Request": "true"}).json() == {"htmx": True}


def test_block_of_a_child_template(write: Write) -> None:
    write("base.html", "<main>{% block body %}{% endblock %}</main>")
    folder = write("child.html", '{% extends "base.html" %}{% block body %}[{{ x }}]{% endblock %}')
    templates = Templates(folder)
    app = App()

    @app.get("/")
    async def page(request: Request) -> HTMLResponse:
        return templates.render(request, "child.html", {"x": "<i>"}, block="body")

    assert TestClient(app).get("/").text == "[&lt;i&gt;]"


# -- errors ----------------------------------------------------------------------------------

BROKEN = "line one\nline two\n{{ missing.attribute }}\n"


def test_debug_error_page_shows_template_name_and_line(write: Write) -> None:
    templates = Templates(write("broken.html", BROKEN))
    app = page_app(templates, "broken.html", {}, debug=True)
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 500
    assert "broken.html&quot;, line 3" in page.text  # Jinja's frame in the traceback
    assert "in template &#x27;" in page.text and "broken.html&#x27;, line 3" in page.text
    assert "{{ missing.attribute }}" in page.text
    problem = client.get("/").json()  # API clients get the traceback as JSON lines
    assert any("broken.html', line 3" in line for line in problem["traceback"])


def test_debug_syntax_error_shows_template_name_and_line(write: Write) -> None:
    templates = Templates(write("syntax.html", "ok\n{% if %}\n"))
    app = page_app(templates, "syntax.html", {}, debug=True)
    problem = TestClient(app, raise_server_exceptions=False).get("/").json()
    assert "TemplateSyntaxError" in problem["detail"]
    assert any("syntax.html', line 2" in line for line in problem["traceback"])


def test_production_template_error_is_a_clean_500(write: Write) -> None:
    templates = Templates(write("broken.html", BROKEN))
    app = page_app(templates, "broken.html", {})
    response = TestClient(app, raise_server_exceptions=False).get(
        "/", headers={"Accept": "text/html"}
    )
    assert response.status_code == 500
    # A browser gets a page (issue 19), still saying nothing about the failure.
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side" in response.text
    assert "broken" not in response.text and "missing" not in response.text


def test_missing_template_names_the_folders_searched(write: Write) -> None:
    folder = write("a.html", "")
    templates = Templates(folder)
    app = page_app(templates, "nope.html", {})
    with pytest.raises(Exception, match=f"'nope.html' not found; searched.*{folder.name}"):
        TestClient(app).get("/")


# -- async rendering -------------------------------------------------------------------------


async def numbers() -> AsyncIterator[int]:
    for number in (1, 2, 3):
        yield number


async def greeting() -> str:
    return "hi <there>"


def test_async_rendering_awaits_and_loops(write: Write) -> None:
    folder = write(
        "async.html",
        "{{ greeting() }}:{% for n in numbers() %}{{ n }}{% endfor %}"
        "{% block part %}[{{ greeting() }}]{% endblock %}",
    )
    templates = Templates(folder, enable_async=True)
    app = App()

    @app.get("/")
    async def page(request: Request) -> HTMLResponse:
        context = {"numbers": numbers, "greeting": greeting}
        return await templates.render_async(request, "async.html", context)

    @app.get("/part")
    async def part(request: Request) -> HTMLResponse:
        context = {"numbers": numbers, "greeting": greeting}
        return await templates.render_async(request, "async.html", context, block="part")

    @app.get("/sync")
    async def sync(request: Request) -> HTMLResponse:
        return templates.render(request, "async.html", {})

    client = TestClient(app)
    assert client.get("/").text == "hi &lt;there&gt;:123[hi &lt;there&gt;]"
    assert client.get("/part").text == "[hi &lt;there&gt;]"
    with pytest.raises(RuntimeError, match="render_async"):
        client.get("/sync")


def test_render_async_works_on_sync_templates(write: Write) -> None:
    templates = Templates(write("a.html", "{{ x }}"))
    app = App()

    @app.get("/")
    async def page(request: Request) -> HTMLResponse:
        return await templates.render_async(request, "a.html", {"x": 1})

    assert TestClient(app).get("/").text == "1"


def test_sync_handlers_render_too(write: Write) -> None:
    templates = Templates(write("a.html", "{{ x }}"))
    app = App()

    @app.get("/")
    def page(request: Request) -> HTMLResponse:
        return templates.render(request, "a.html", {"x": "sync"})

    assert TestClient(app).get("/").text == "sync"


# -- caching and reloading -------------------------------------------------------------------


def test_templates_reload_in_debug(write: Write) -> None:
    folder = write("r.html", "one")
    templates = Templates(folder)
    client = TestClient(page_app(templates, "r.html", {}, debug=True))
    assert client.get("/").text == "one"
    path = folder / "r.html"
    path.write_text("two, longer")  # a new size and mtime: Jinja sees the change
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    assert client.get("/").text == "two, longer"


def test_templates_are_cached_in_production(write: Write) -> None:
    folder = write("r.html", "one")
    templates = Templates(folder)
    client = TestClient(page_app(templates, "r.html", {}))
    assert client.get("/").text == "one"
    path = folder / "r.html"
    path.write_text("two")
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 10))
    assert client.get("/").text == "one"
    assert templates.env.auto_reload is False


# -- per-app template folders ----------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two app packages, ``tplshop`` (with templates/) and ``tplblog`` (with templates/)."""
    for name, text in (("tplshop", "shop page"), ("tplblog", "blog page")):
        package = tmp_path / "apps" / name
        (package / "templates" / name).mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "templates" / name / "index.html").write_text(text)
        (package / "templates" / "shared.html").write_text(f"shared from {name}")
    monkeypatch.syspath_prepend(str(tmp_path / "apps"))
    yield tmp_path
    for name in ("tplshop", "tplblog"):
        sys.modules.pop(name, None)


def test_app_template_folders_found_from_project_settings(project: Path) -> None:
    (project / "templates").mkdir()
    (project / "templates" / "shared.html").write_text("project wins")
    templates = Templates(project / "templates")

    class ProjectSettings(Settings):
        apps: list[str] = Field(default_factory=lambda: ["tplshop", "tplblog"])

    app = create_app(ProjectSettings())

    @app.get("/{name:path}")
    async def page(request: Request, name: str) -> HTMLResponse:
        return templates.render(request, name)

    client = TestClient(app)
    assert client.get("/tplshop/index.html").text == "shop page"
    assert client.get("/tplblog/index.html").text == "blog page"
    assert client.get("/shared.html").text == "project wins"  # the project folder comes first


def test_app_template_folders_listed_explicitly(project: Path) -> None:
    templates = Templates(apps=["tplblog", "tplshop"])
    assert templates.env.get_template("shared.html").render() == "shared from tplblog"
    assert any(path.endswith("templates") for path in templates.search_path())


def test_unknown_app_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"prow\.E182.*'no_such_app_xyz'"):
        Templates(apps=["no_such_app_xyz"])


def test_two_apps_sharing_templates_each_keep_their_environment(project: Path) -> None:
    """A sub-app mounted in the project renders with the same ``Templates``, alternately."""
    templates = Templates()
    seen: dict[str, list[tuple[Any, Any, list[str]]]] = {"shop": [], "blog": []}

    def project_app(name: str, **options: Any) -> App:
        class ProjectSettings(Settings):
            apps: list[str] = Field(default_factory=lambda: [f"tpl{name}"])

        app = create_app(ProjectSettings(), **options)

        @app.get("/page")
        async def page(request: Request) -> HTMLResponse:
            template = templates.get_template("shared.html", request)
            seen[name].append((template.environment, template, templates.search_path(request)))
            return templates.render(request, "shared.html")

        return app

    shop = project_app("shop", debug=False)
    blog = project_app("blog", debug=True)
    shop.mount("/blog", blog)
    client = TestClient(shop)
    for _ in range(3):
        assert client.get("/page").text == "shared from tplshop"
        assert client.get("/blog/page").text == "shared from tplblog"

    for name, folder in (("shop", "tplshop"), ("blog", "tplblog")):
        environments = {id(env) for env, _, _ in seen[name]}
        assert len(environments) == 1, f"{name}'s environment was rebuilt"
        compiled = {id(template) for _, template, _ in seen[name]}
        assert len(compiled) == 1, f"{name}'s template was compiled again"
        searched = seen[name][0][2]
        assert len(searched) == 1 and searched[0].endswith(f"{folder}/templates")
    shop_env, blog_env = seen["shop"][0][0], seen["blog"][0][0]
    assert shop_env is not blog_env
    # Each app keeps its own reloading: only the debug app watches files.
    assert (shop_env.auto_reload, blog_env.auto_reload) == (False, True)
    # Filters and globals set on templates.env are seen by every app's environment.
    assert shop_env.globals is templates.env.globals is blog_env.globals
