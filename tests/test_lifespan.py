"""Lifespan: start-up and shut-down hooks, the ``lifespan=`` context, start-up failures."""

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pytest

from prow import App, ConfigurationError, Depends, Path, Request
from prow.testing import TestClient


def test_hooks_run_in_order_sync_and_async() -> None:
    events: list[str] = []

    def ctor_start() -> None:
        events.append("ctor start")

    async def ctor_stop() -> None:
        events.append("ctor stop")

    app = App(on_startup=[ctor_start], on_shutdown=[ctor_stop])

    @app.on_startup
    async def deco_start() -> None:
        events.append("deco start")

    @app.on_shutdown
    def deco_stop() -> None:
        events.append("deco stop")

    @app.get("/")
    async def index() -> str:
        events.append("request")
        return "ok"

    with TestClient(app) as client:
        assert events == ["ctor start", "deco start"]
        assert client.get("/").json() == "ok"
    assert events == ["ctor start", "deco start", "request", "ctor stop", "deco stop"]


def test_hooks_do_not_run_without_with_block() -> None:
    events: list[str] = []
    app = App(on_startup=[lambda: events.append("start")])

    @app.get("/")
    async def index() -> str:
        return "ok"

    assert TestClient(app).get("/").json() == "ok"
    assert events == []


def test_lifespan_context_state() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[dict[str, Any]]:
        events.append("enter")
        yield {"pool": "the-pool"}
        events.append("exit")

    app = App(lifespan=lifespan, on_startup=[lambda: events.append("hook")])

    @app.get("/")
    async def index(request: Request) -> dict[str, str]:
        return {"request": request.state.pool, "app": request.app.state.pool}

    with TestClient(app) as client:
        assert app.state.pool == "the-pool"
        assert client.get("/").json() == {"request": "the-pool", "app": "the-pool"}
        assert events == ["hook", "enter"]
    assert events == ["hook", "enter", "exit"]


def test_lifespan_yielding_nothing() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        yield

    app = App(lifespan=lifespan)

    @app.get("/")
    async def index() -> str:
        return "ok"

    with TestClient(app) as client:
        assert client.get("/").json() == "ok"


def test_startup_error_fails_the_with_block() -> None:
    events: list[str] = []

    def broken() -> None:
        raise RuntimeError("no database")

    app = App(on_startup=[broken], on_shutdown=[lambda: events.append("stop")])
    with pytest.raises(Exception, match="no database"), TestClient(app):
        events.append("body ran")
    # Neither the block nor the shut-down hooks run for an app that never started.
    assert events == []


def test_lifespan_context_error_fails_startup() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        raise OSError("port in use")
        yield  # pragma: no cover

    app = App(lifespan=lifespan)
    with pytest.raises(Exception, match="port in use"), TestClient(app):
        pass


def test_bad_signature_fails_at_startup_with_a_code() -> None:
    app = App()

    @app.get("/items")
    async def items(item_id: Annotated[int, Path()]) -> int:
        return item_id

    with pytest.raises(ConfigurationError) as info, TestClient(app):
        pass
    assert info.value.code == "prow.E005"
    assert str(info.value).startswith("prow.E005: ")
    assert "item_id" in str(info.value)


def test_body_and_form_mixed_fails_at_startup() -> None:
    from pydantic import BaseModel

    from prow import Form

    class Thing(BaseModel):
        name: str

    app = App()

    @app.post("/mixed")
    async def mixed(thing: Thing, note: Annotated[str, Form()]) -> None: ...

    with pytest.raises(ConfigurationError, match=r"^prow\.E006: "), TestClient(app):
        pass


def test_a_path_placeholder_no_parameter_takes_fails_at_startup() -> None:
    app = App()

    @app.get("/shops/{shop_id}/items/{item_id}")
    async def item(item_id: int) -> int:
        return item_id

    with pytest.raises(ConfigurationError) as info, TestClient(app):
        pass
    assert info.value.code == "prow.E031"
    assert "{shop_id}" in str(info.value) and "{item_id}" not in str(info.value)


def test_a_path_placeholder_taken_by_a_dependency_or_read_by_hand_is_fine() -> None:
    app = App()

    async def shop(shop_id: int) -> int:
        return shop_id

    @app.get("/shops/{shop_id}/items/{item_id}")
    async def item(item_id: int, found: Annotated[int, Depends(shop)]) -> list[int]:
        return [found, item_id]

    @app.get("/raw/{anything}")
    async def raw(request: Request) -> str:
        return str(request.path_params["anything"])

    with TestClient(app) as client:
        assert client.get("/shops/2/items/3").json() == [2, 3]
        assert client.get("/raw/x").json() == "x"
