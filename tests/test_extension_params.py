"""A parameter typed with an extension class receives the app's installed extension."""

from __future__ import annotations

from typing import Annotated

from prow import App, Depends, WebSocket
from prow.extensions import Extension
from prow.testing import TestClient


class Greeter(Extension):
    def __init__(self, greeting: str = "hello") -> None:
        self.greeting = greeting


class LoudGreeter(Greeter):
    pass


async def shout(greeter: Greeter) -> str:  # a dependency may ask for an extension too
    return greeter.greeting + "!"


def test_a_handler_receives_the_installed_extension() -> None:
    app = App(extensions=[Greeter("ahoy")])

    @app.get("/greet/{name}")
    async def greet(name: str, greeter: Greeter) -> str:
        return f"{greeter.greeting} {name}"

    with TestClient(app) as client:
        assert client.get("/greet/ann").json() == "ahoy ann"
    operation = app.openapi()["paths"]["/greet/{name}"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["name"]


def test_a_subclass_installed_serves_its_base_class_and_dependencies_ask_too() -> None:
    loud = LoudGreeter("HEY")
    app = App(extensions=[loud])

    @app.get("/")
    async def home(text: Annotated[str, Depends(shout)], loud_one: LoudGreeter) -> list[object]:
        return [text, loud_one is loud]

    with TestClient(app) as client:
        assert client.get("/").json() == ["HEY!", True]


def test_a_missing_extension_is_installed_with_its_defaults_at_build() -> None:
    app = App()

    @app.get("/")
    async def home(greeter: Greeter) -> str:
        return greeter.greeting

    app.build()
    assert app.has_extension(Greeter)  # before any request
    with TestClient(app) as client:
        assert client.get("/").json() == "hello"


def test_websocket_handlers_receive_it_too() -> None:
    app = App(extensions=[Greeter("hi")])

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, greeter: Greeter) -> None:
        await websocket.accept()
        await websocket.send_text(greeter.greeting)
        await websocket.close()

    with TestClient(app) as client, client.websocket_connect("/ws") as socket:
        assert socket.receive_text() == "hi"
