"""The extension protocol: install, set up at build, start and stop with the lifespan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from prow import App, ConfigurationError, Request, Router
from prow.db import Database, DBSession
from prow.extensions import Extension, requires_extension
from prow.testing import TestClient


class Recorder(Extension):
    """Writes what happens to it into a shared log."""

    unique = False

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def setup(self, app: App) -> None:
        self.log.append(f"setup {self.name}")

    async def startup(self, app: App) -> None:
        self.log.append(f"startup {self.name}")

    async def shutdown(self, app: App) -> None:
        self.log.append(f"shutdown {self.name}")


def test_extensions_set_up_at_build_and_run_with_the_lifespan() -> None:
    log: list[str] = []
    app = App(extensions=[Recorder("a", log)])
    app.install(Recorder("b", log))
    assert log == []  # installing records; nothing happens before the build

    @app.on_startup
    def started() -> None:
        log.append("app startup")

    app.build()
    assert log == ["setup a", "setup b"]
    with TestClient(app):
        assert log[-3:] == ["startup a", "startup b", "app startup"]
    assert log[-2:] == ["shutdown b", "shutdown a"]


class Base(Extension):
    def __init__(self) -> None:
        self.ready = False

    def setup(self, app: App) -> None:
        self.ready = True


class Dependent(Extension):
    requires = (Base,)

    def setup(self, app: App) -> None:
        assert app.extension(Base).ready  # requirements are set up first


def test_a_required_extension_is_installed_with_its_defaults() -> None:
    app = App(extensions=[Dependent()])
    app.build()
    assert app.has_extension(Base)
    assert [type(ext) for ext in app.extensions] == [Base, Dependent]


def test_a_dependency_installs_the_extension_that_serves_it() -> None:
    @requires_extension(Base)
    async def needs_base(request: Request) -> bool:
        return request.app.extension(Base).ready

    app = App()

    @app.get("/")
    async def home(ready: bool = needs_base_dependency(needs_base)) -> bool:
        return ready

    with TestClient(app) as client:
        assert client.get("/").json() is True
    assert app.has_extension(Base)


def needs_base_dependency(call: Any) -> Any:
    from prow import Depends

    return Depends(call)


class Loop(Extension):
    def __init__(self) -> None:
        self.other: Extension | None = None


class Ping(Extension):
    pass


class Pong(Extension):
    pass


Ping.requires = (Pong,)
Pong.requires = (Ping,)


@pytest.mark.parametrize(
    ("mistake", "code", "words"),
    [
        (lambda app: app.install(object()), "prow.E024", "is not a prow extension"),
        (lambda app: app.install(Base()) and app.install(Base()), "prow.E023", "twice"),
        (lambda app: app.extension(Base), "prow.E025", "App(extensions=[Base(...)])"),
        (lambda app: (app.install(Ping()), app.build()), "prow.E026", "Ping -> Pong -> Ping"),
    ],
)
def test_mistakes_are_refused_with_a_code(mistake: Any, code: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        mistake(App())
    assert caught.value.code == code
    assert words in str(caught.value)


def test_nothing_is_added_once_the_app_is_built() -> None:
    app = App()
    router = Router()

    @app.get("/")
    async def home() -> str:
        return "home"

    app.build()
    late: list[Any] = [
        lambda: app.install(Base()),
        lambda: app.add_route("/late", home),
        lambda: app.get("/late")(home),
        lambda: app.include(router),
        lambda: app.mount("/static", home),
        lambda: app.add_middleware(Base),
    ]
    codes = []
    for attempt in late:
        with pytest.raises(ConfigurationError) as caught:
            attempt()
        codes.append(caught.value.code)
    assert codes == ["prow.E021", "prow.E022", "prow.E022", "prow.E022", "prow.E022", "prow.E020"]
    assert "added after the app was built" in str(caught_message(app))


def caught_message(app: App) -> str:
    try:
        app.add_route("/late", lambda: None)
    except ConfigurationError as exc:
        return str(exc)
    return ""


def test_an_extension_adds_routes_and_middleware_in_setup() -> None:
    class Hello(Extension):
        def setup(self, app: App) -> None:
            @app.get("/hello")
            async def hello() -> str:
                return "hi"

    app = App(extensions=[Hello()])
    with TestClient(app) as client:
        assert client.get("/hello").text == '"hi"'


def test_a_failing_startup_stops_the_app_and_stops_what_started() -> None:
    log: list[str] = []

    class Broken(Extension):
        async def startup(self, app: App) -> None:
            raise ConfigurationError("prow.E505", "cannot use the database: nope")

    app = App(extensions=[Recorder("first", log), Broken()])
    with pytest.raises(ConfigurationError, match="nope"), TestClient(app):
        pass
    assert log == ["setup first", "startup first", "shutdown first"]


def test_a_database_that_can_never_work_stops_the_start_up(tmp_path: Path) -> None:
    bad = Database(f"sqlite:///{tmp_path / 'missing-folder' / 'app.sqlite3'}")
    app = App(extensions=[bad])
    with pytest.raises(ConfigurationError) as caught, TestClient(app):
        pass
    assert caught.value.code == "prow.E505"
    assert "unable to open database file" in str(caught.value)


def test_a_database_server_that_is_down_only_for_now_lets_the_app_start() -> None:
    app = App(extensions=[Database("postgresql://postgres@127.0.0.1:1/test")])

    @app.get("/")
    async def home(session: DBSession) -> int:
        value: int = (await session.execute(text("SELECT 1"))).scalar_one()
        return value

    with TestClient(app) as client:
        answer = client.get("/")
    assert answer.status_code == 503 and "retry-after" in answer.headers


def test_the_route_add_route_returns_is_the_one_served() -> None:
    async def handler() -> str:
        return "hi"

    shared = Router(prefix="/shared")
    mine = shared.add_route("/x", handler)
    app, other = App(), App()
    route = app.add_route("/hello", handler)
    app.include(shared)
    other.include(shared, prefix="/v2")
    app.build()
    other.build()
    assert route in app.routes and route.plan is not None
    assert mine in app.routes and mine.path == "/shared/x"
    # Another app serves its own copy: the two never share a plan or a CSRF guard.
    assert mine not in other.routes
    assert [r.path for r in other.routes if r.endpoint is handler] == ["/v2/shared/x"]


def test_mistakes_with_classes_and_instances_say_what_to_write() -> None:
    with pytest.raises(ConfigurationError, match=r"install an instance, Database\(\.\.\.\)"):
        App(extensions=[Database])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="takes an Extension class"):
        App().extension(Database("sqlite://"))  # type: ignore[arg-type]
    single = Database("sqlite://")
    assert App(extensions=single).extensions == (single,)  # type: ignore[arg-type]


def test_use_database_never_replaces_a_database_the_project_installed() -> None:
    from prow.db import use_database

    app = App(extensions=[Database("sqlite:///./a.sqlite3")])
    with pytest.deprecated_call(), pytest.raises(ConfigurationError) as caught:
        use_database(app, "sqlite:///./b.sqlite3")
    assert caught.value.code == "prow.E023"
