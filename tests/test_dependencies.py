"""Dependency injection: plain, async and generator dependencies, caching, overrides, scopes."""

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from pydantic import BaseModel

from prow import App, Depends, Header, HTTPError, JSONResponse, Query, Request, Response, Router
from prow.testing import TestClient


class Item(BaseModel):
    name: str


def test_sync_and_async_dependencies() -> None:
    app = App()

    def sync_dep() -> int:
        return 1

    async def async_dep() -> int:
        return 2

    @app.get("/")
    async def handler(
        a: Annotated[int, Depends(sync_dep)], b: int = Depends(async_dep)
    ) -> dict[str, int]:
        return {"a": a, "b": b}

    assert TestClient(app).get("/").json() == {"a": 1, "b": 2}


def test_generator_dependencies_tear_down_after_response() -> None:
    events: list[str] = []
    app = App()

    def sync_resource() -> Iterator[str]:
        events.append("sync open")
        yield "sync"
        events.append("sync close")

    async def async_resource() -> AsyncIterator[str]:
        events.append("async open")
        yield "async"
        events.append("async close")

    @app.get("/")
    async def handler(
        s: Annotated[str, Depends(sync_resource)],
        a: Annotated[str, Depends(async_resource)],
    ) -> dict[str, str]:
        events.append("handler")
        return {"s": s, "a": a}

    response = TestClient(app).get("/")
    assert response.json() == {"s": "sync", "a": "async"}
    # Torn down newest first, once the handler has run.
    assert events == ["sync open", "async open", "handler", "async close", "sync close"]


def test_generator_dependency_sees_handler_exception() -> None:
    events: list[str] = []
    app = App()

    async def transaction() -> AsyncIterator[None]:
        try:
            yield
        except HTTPError as exc:
            events.append(f"rollback {exc.status}")
            raise
        else:
            events.append("commit")

    def sync_guard() -> Iterator[None]:
        try:
            yield
        except ValueError:
            events.append("sync saw ValueError")
            raise

    @app.get("/fail")
    async def fail(_: Annotated[None, Depends(transaction)]) -> None:
        raise HTTPError(409, "conflict")

    @app.get("/ok")
    async def ok(_: Annotated[None, Depends(transaction)]) -> str:
        return "ok"

    @app.get("/boom")
    async def boom(_: Annotated[None, Depends(sync_guard)]) -> None:
        raise ValueError("boom")

    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/fail").status_code == 409
    assert client.get("/ok").json() == "ok"
    assert client.get("/boom").status_code == 500
    assert events == ["rollback 409", "commit", "sync saw ValueError"]


def test_generator_teardown_can_translate_the_error() -> None:
    app = App()

    async def translating() -> AsyncIterator[None]:
        try:
            yield
        except KeyError as exc:
            raise HTTPError(404, f"no such key {exc}") from exc

    @app.get("/")
    async def handler(_: Annotated[None, Depends(translating)]) -> None:
        raise KeyError("k")

    response = TestClient(app).get("/")
    assert response.status_code == 404
    assert "no such key" in response.json()["detail"]


def test_nested_dependencies_and_cache() -> None:
    calls: list[str] = []
    app = App()

    def settings() -> dict[str, str]:
        calls.append("settings")
        return {"db": "sqlite"}

    def database(conf: Annotated[dict[str, str], Depends(settings)]) -> str:
        calls.append("database")
        return f"db:{conf['db']}"

    def repository(
        db: Annotated[str, Depends(database)], conf: Annotated[dict[str, str], Depends(settings)]
    ) -> str:
        return f"repo({db},{conf['db']})"

    @app.get("/")
    async def handler(
        repo: Annotated[str, Depends(repository)], db: Annotated[str, Depends(database)]
    ) -> dict[str, str]:
        return {"repo": repo, "db": db}

    client = TestClient(app)
    assert client.get("/").json() == {"repo": "repo(db:sqlite,sqlite)", "db": "db:sqlite"}
    assert calls == ["settings", "database"]
    client.get("/")
    # A new request gets fresh values.
    assert calls == ["settings", "database", "settings", "database"]


def test_use_cache_false_calls_again() -> None:
    counter = {"n": 0}
    app = App()

    def next_number() -> int:
        counter["n"] += 1
        return counter["n"]

    @app.get("/")
    async def handler(
        a: Annotated[int, Depends(next_number)],
        b: Annotated[int, Depends(next_number, use_cache=False)],
    ) -> list[int]:
        return [a, b]

    assert TestClient(app).get("/").json() == [1, 2]


def test_route_router_and_app_dependencies_run_in_order() -> None:
    events: list[str] = []

    def app_dep() -> None:
        events.append("app")

    def router_dep() -> None:
        events.append("router")

    def route_dep() -> None:
        events.append("route")

    app = App(dependencies=[Depends(app_dep)])
    router = Router(prefix="/r", dependencies=[Depends(router_dep)])

    @router.get("/x", dependencies=[Depends(route_dep)])
    async def handler() -> str:
        events.append("handler")
        return "x"

    @app.get("/plain")
    async def plain() -> str:
        events.append("plain")
        return "p"

    app.include(router)
    client = TestClient(app)
    assert client.get("/r/x").json() == "x"
    assert events == ["app", "router", "route", "handler"]
    events.clear()
    assert client.get("/plain").json() == "p"
    assert events == ["app", "plain"]


def test_dependency_raising_stops_the_handler() -> None:
    ran: list[str] = []
    app = App()

    def require_user(authorization: Annotated[str | None, Header()] = None) -> str:
        if authorization != "Bearer good":
            raise HTTPError(401, "not signed in", headers={"WWW-Authenticate": "Bearer"})
        return "ada"

    @app.get("/me")
    async def me(user: Annotated[str, Depends(require_user)]) -> dict[str, str]:
        ran.append(user)
        return {"user": user}

    client = TestClient(app)
    response = client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == "not signed in"
    assert ran == []
    assert client.get("/me", headers={"Authorization": "Bearer good"}).json() == {"user": "ada"}


def test_dependency_params_are_extracted_and_validated() -> None:
    ran: list[str] = []
    app = App()

    def paging(
        page: Annotated[int, Query(ge=1)] = 1, x_per_page: Annotated[int, Header()] = 20
    ) -> dict[str, int]:
        ran.append("paging")
        return {"page": page, "per_page": x_per_page}

    @app.get("/list")
    async def listing(p: Annotated[dict[str, int], Depends(paging)]) -> dict[str, int]:
        return p

    client = TestClient(app)
    assert client.get("/list?page=3", headers={"x-per-page": "5"}).json() == {
        "page": 3,
        "per_page": 5,
    }
    ran.clear()
    response = client.get("/list?page=0", headers={"x-per-page": "many"})
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [
        ["query", "page"],
        ["header", "x-per-page"],
    ]
    # Validation happens before any user code runs.
    assert ran == []


def test_dependencies_without_the_body_run_before_it_is_validated() -> None:
    ran: list[str] = []
    app = App()

    def api_key(x_key: Annotated[str | None, Header()] = None) -> str:
        ran.append("api_key")
        if x_key != "k":
            raise HTTPError(401, "an API key is required")
        return x_key

    def tenant(x_tenant: Annotated[int, Header()]) -> int:
        ran.append("tenant")
        return x_tenant

    def audit(item: Item, key: Annotated[str, Depends(api_key)]) -> str:
        ran.append("audit")  # reads the body, so it runs only once the body is valid
        return f"{key}:{item.name}"

    def stamp() -> str:
        ran.append("stamp")  # not cached: it runs once, in its usual turn
        return "stamped"

    @app.post("/items", dependencies=[Depends(api_key)])
    async def create(
        t: Annotated[int, Depends(tenant)],
        seen: Annotated[str, Depends(audit)],
        s: Annotated[str, Depends(stamp, use_cache=False)],
    ) -> list[object]:
        return [t, seen, s]

    client = TestClient(app)
    key, tenant_1 = {"x-key": "k"}, {"x-tenant": "1"}
    assert client.post("/items", json={"name": 3}).status_code == 401
    assert ran == ["api_key"]  # the failing guard answered before the body was looked at
    ran.clear()
    bad = client.post("/items", headers={**key, "x-tenant": "one"}, json={"name": 3})
    assert [e["loc"] for e in bad.json()["errors"]] == [["header", "x-tenant"], ["body", "name"]]
    assert ran == ["api_key"]  # tenant's header is invalid: tenant is skipped, not called
    ran.clear()
    answer = client.post("/items", headers={**key, **tenant_1}, json={"name": "pen"})
    assert answer.json() == [1, "k:pen", "stamped"]
    assert ran == ["api_key", "tenant", "audit", "stamp"]  # each once


def test_dependency_overrides_and_clearing() -> None:
    app = App()

    def real_db() -> str:
        return "real"

    def service(db: Annotated[str, Depends(real_db)]) -> str:
        return f"service({db})"

    @app.get("/")
    async def handler(s: Annotated[str, Depends(service)]) -> str:
        return s

    client = TestClient(app)
    assert client.get("/").json() == "service(real)"
    app.dependency_overrides[real_db] = lambda: "fake"
    assert client.get("/").json() == "service(fake)"
    app.dependency_overrides.clear()
    assert client.get("/").json() == "service(real)"
    app.dependency_overrides[service] = lambda: "stub"
    assert client.get("/").json() == "stub"
    del app.dependency_overrides[service]
    assert client.get("/").json() == "service(real)"


def test_override_with_its_own_parameters() -> None:
    app = App()

    def current_user() -> str:
        raise HTTPError(401)

    @app.get("/")
    async def handler(user: Annotated[str, Depends(current_user)]) -> str:
        return user

    def fake_user(as_user: str = "tester") -> str:
        return as_user

    app.dependency_overrides[current_user] = fake_user
    client = TestClient(app)
    assert client.get("/?as_user=root").json() == "root"
    assert client.get("/").json() == "tester"


def test_class_dependencies() -> None:
    app = App()

    class Pagination:
        def __init__(self, limit: int = 10, offset: int = 0) -> None:
            self.limit = limit
            self.offset = offset

    @app.get("/explicit")
    async def explicit(p: Annotated[Pagination, Depends(Pagination)]) -> dict[str, int]:
        return {"limit": p.limit, "offset": p.offset}

    @app.get("/shorthand")
    async def shorthand(p: Annotated[Pagination, Depends()]) -> dict[str, int]:
        return {"limit": p.limit, "offset": p.offset}

    client = TestClient(app)
    assert client.get("/explicit?limit=5").json() == {"limit": 5, "offset": 0}
    assert client.get("/shorthand?offset=2").json() == {"limit": 10, "offset": 2}
    response = client.get("/shorthand?limit=x")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "limit"]


def test_dependency_receives_request() -> None:
    app = App()

    def client_host(request: Request) -> str:
        return request.client.host if request.client else "?"

    @app.get("/")
    async def handler(host: Annotated[str, Depends(client_host)]) -> str:
        return host

    assert TestClient(app).get("/").json() == "testclient"


def test_dependency_cycle_is_a_configuration_error() -> None:
    from prow import ConfigurationError

    app = App()

    def a(x: Any = None) -> None: ...

    def b(y: Annotated[None, Depends(a)]) -> None: ...

    # ``a`` depends on ``b`` only after ``b`` exists.
    a.__annotations__["x"] = Annotated[None, Depends(b)]
    a.__defaults__ = (Depends(b),)

    @app.get("/")
    async def handler(_: Annotated[None, Depends(a)]) -> None: ...

    with pytest.raises(ConfigurationError, match=r"^prow\.E003: dependency cycle"):
        TestClient(app).get("/")


def test_function_scope_teardown_runs_before_the_response_is_sent() -> None:
    events: list[str] = []
    app = App()

    async def transaction() -> AsyncIterator[str]:
        events.append("begin")
        try:
            yield "tx"
        except Exception:
            events.append("rollback")
            raise
        else:
            events.append("commit")

    @app.get("/ok")
    async def ok(tx: Annotated[str, Depends(transaction, scope="function")]) -> Response:
        events.append("handler")
        return _Recording(events, {"tx": tx})

    @app.get("/fail")
    async def fail(tx: Annotated[str, Depends(transaction, scope="function")]) -> None:
        raise HTTPError(409, "conflict")

    client = TestClient(app)
    assert client.get("/ok").json() == {"tx": "tx"}
    assert events == ["begin", "handler", "commit", "sent"]
    events.clear()
    response = client.get("/fail")
    assert response.status_code == 409
    assert events == ["begin", "rollback"]


def test_function_scope_teardown_error_becomes_the_answer() -> None:
    app = App()

    async def failing_commit() -> AsyncIterator[None]:
        yield
        raise HTTPError(503, "commit failed")

    @app.get("/")
    async def handler(
        _: Annotated[None, Depends(failing_commit, scope="function")],
    ) -> dict[str, str]:
        return {"status": "created"}

    response = TestClient(app).get("/")
    assert response.status_code == 503
    assert response.json()["detail"] == "commit failed"


def test_depends_rejects_an_unknown_scope() -> None:
    with pytest.raises(ValueError, match="scope"):
        Depends(lambda: None, scope="session")  # type: ignore[arg-type]


class _Recording(JSONResponse):
    """Records when it is sent, to prove ordering against dependency teardown."""

    def __init__(self, events: list[str], content: object) -> None:
        super().__init__(content)
        self._events = events

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self._events.append("sent")
        await super().__call__(scope, receive, send)
