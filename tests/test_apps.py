"""prow.apps: app modules listed in settings register their routers, hooks and commands."""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from prow import App, ConfigurationError
from prow.apps import AppModule, cli_commands, create_app, discover, load_apps
from prow.settings import Settings
from prow.testing import TestClient

_counter = itertools.count()

Files = dict[str, str]


@pytest.fixture(autouse=True)
def no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``.env`` from the working folder: make it one without any."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def make_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Files], str]]:
    """Write a package of uniquely named modules to disk; returns its import name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(files: Files) -> str:
        name = f"appspkg_{next(_counter)}"
        made.append(name)
        (tmp_path / name).mkdir()
        files = {"__init__.py": "", **files}
        for relative, text in files.items():
            path = tmp_path / name / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return name

    yield make
    for module in [m for m in sys.modules if m.split(".")[0] in made]:
        del sys.modules[module]


ROUTES = """
    from prow import Router
    router = Router(prefix="/blog")

    @router.get("/")
    async def index() -> dict[str, str]:
        return {"app": "blog"}
"""


def test_router_in_routes_submodule_is_included(make_package: Callable[[Files], str]) -> None:
    name = make_package({"routes.py": ROUTES})
    app = App()
    (found,) = discover(app, [name])
    assert isinstance(found, AppModule) and found.name == name
    assert set(found.submodules) == {"routes"}
    with TestClient(app) as client:
        assert client.get("/blog/").json() == {"app": "blog"}


def test_routers_list_in_the_package_itself(make_package: Callable[[Files], str]) -> None:
    name = make_package(
        {
            "__init__.py": """
                from prow import Router
                one, two = Router(prefix="/one"), Router(prefix="/two")
                one.add_route("/", lambda: "one")
                two.add_route("/", lambda: "two")
                routers = [one, two]
            """
        }
    )
    app = App()
    discover(app, [name])
    with TestClient(app) as client:
        assert client.get("/one/").json() == "one"
        assert client.get("/two/").json() == "two"


def test_models_are_imported_and_hooks_run(make_package: Callable[[Files], str]) -> None:
    name = make_package(
        {
            "__init__.py": """
                events = []
                def on_startup() -> None:
                    events.append("start")
                async def stop() -> None:
                    events.append("stop")
                on_shutdown = [stop]
            """,
            "models.py": "IMPORTED = True\n",
        }
    )
    app = App()
    (found,) = discover(app, [name])
    assert f"{name}.models" in sys.modules
    events = found.module.events
    with TestClient(app):
        assert events == ["start"]
    assert events == ["start", "stop"]


def test_setup_installs_what_needs_the_app(make_package: Callable[[Files], str]) -> None:
    """``setup(app)`` runs once, when the app is made: the place for Auth(app), middleware."""
    name = make_package(
        {
            "__init__.py": """
                from prow import PlainTextResponse
                from prow.middleware import GZipMiddleware

                def setup(app) -> None:
                    app.state.configured = True
                    app.add_middleware(GZipMiddleware, minimum_size=1)

                    @app.exception_handler(LookupError)
                    async def missing(request, exc) -> PlainTextResponse:
                        return PlainTextResponse("not here", status_code=404)
            """,
            "routes.py": """
                from prow import Router

                router = Router()

                @router.get("/find")
                async def find() -> str:
                    raise LookupError("nothing")
            """,
        }
    )
    app = App()
    discover(app, [name])
    assert app.state.configured is True
    answer = TestClient(app).get("/find", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 404 and answer.text == "not here"
    assert answer.headers["content-encoding"] == "gzip"


def test_setup_must_be_callable(make_package: Callable[[Files], str]) -> None:
    name = make_package({"__init__.py": "setup = 'auth'\n"})
    with pytest.raises(ConfigurationError) as caught:
        load_apps([name])
    assert caught.value.code == "prow.E705" and "setup(app)" in str(caught.value)


def test_a_single_module_app(make_package: Callable[[Files], str]) -> None:
    name = make_package({"solo.py": ROUTES})
    app = App()
    (found,) = discover(app, [f"{name}.solo"])
    assert found.submodules == {}
    assert TestClient(app).get("/blog/").status_code == 200


def test_create_app_uses_the_settings_and_keeps_them(make_package: Callable[[Files], str]) -> None:
    name = make_package({"routes.py": ROUTES})

    class ProjectSettings(Settings):
        apps: tuple[str, ...] = (name,)

    settings = ProjectSettings(debug=True)
    assert create_app(settings.model_copy(update={"title": "Shop"})).title == "Shop"
    app = create_app(settings, title="shop")
    assert app.state.settings is settings
    assert app.debug is True and app.title == "shop"
    assert TestClient(app).get("/blog/").json() == {"app": "blog"}


def test_create_app_without_apps_is_a_plain_app() -> None:
    app = create_app(Settings())
    assert [route.path for route in app.routes if route.path.startswith("/blog")] == []


def test_cli_commands(make_package: Callable[[Files], str]) -> None:
    name = make_package(
        {
            "commands.py": """
                import click

                @click.command()
                def seed() -> None:
                    click.echo("seeded")

                commands = [seed]
            """
        }
    )

    class ProjectSettings(Settings):
        apps: tuple[str, ...] = (name,)

    (command,) = cli_commands(ProjectSettings())
    assert isinstance(command, click.Command) and command.name == "seed"


# -- mistakes: each one a ConfigurationError with a stable code, naming the module ----------


def error(names: list[str]) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as caught:
        load_apps(names)
    return caught.value


def test_missing_app_module() -> None:
    exc = error(["no_such_package_xyz.apps.blog"])
    assert exc.code == "prow.E701"
    assert "'no_such_package_xyz.apps.blog'" in exc.message and "prow startapp" in exc.message


def test_app_module_that_raises(make_package: Callable[[Files], str]) -> None:
    name = make_package({"__init__.py": "x = 1\ny = undefined_name\n"})
    exc = error([name])
    assert exc.code == "prow.E702"
    assert repr(name) in exc.message
    assert "NameError" in exc.message and "__init__.py:2" in exc.message


def test_app_importing_a_missing_library_is_not_a_missing_app(
    make_package: Callable[[Files], str],
) -> None:
    name = make_package({"__init__.py": "import not_installed_lib_xyz\n"})
    exc = error([name])
    assert exc.code == "prow.E702" and "not_installed_lib_xyz" in exc.message


def test_broken_submodule(make_package: Callable[[Files], str]) -> None:
    name = make_package({"models.py": "raise RuntimeError('bad model')\n"})
    exc = error([name])
    assert exc.code == "prow.E702"
    assert f"'{name}.models'" in exc.message and "bad model" in exc.message


@pytest.mark.parametrize(
    ("source", "code", "words"),
    [
        ("router = 'not a router'\n", "prow.E703", "Router"),
        ("routers = [object()]\n", "prow.E703", "object"),
        ("commands = [print]\n", "prow.E704", "@click.command()"),
        ("on_startup = 42\n", "prow.E705", "on_startup"),
        ("on_shutdown = [None]\n", "prow.E705", "on_shutdown"),
    ],
)
def test_wrong_exports(
    make_package: Callable[[Files], str], source: str, code: str, words: str
) -> None:
    name = make_package({"__init__.py": source})
    exc = error([name])
    assert exc.code == code
    assert repr(name) in exc.message and words in exc.message


def test_duplicate_and_malformed_lists(make_package: Callable[[Files], str]) -> None:
    name = make_package({})
    assert error([name, name]).code == "prow.E706"
    assert error(name).code == "prow.E707"  # type: ignore[arg-type]
    assert error([name, 3]).code == "prow.E707"  # type: ignore[list-item]
    assert error([""]).code == "prow.E707"


def test_errors_surface_from_create_app() -> None:
    class ProjectSettings(Settings):
        apps: tuple[str, ...] = ("missing_app_xyz",)

    with pytest.raises(ConfigurationError, match=r"prow\.E701"):
        create_app(ProjectSettings())
