"""Mounting other apps under a prefix: prow apps, raw ASGI callables, WSGI apps, static files."""

from pathlib import Path
from typing import Any

import pytest

from prow import App, Request, Router
from prow.testing import TestClient


def make_sub_app() -> App:
    sub = App(openapi_url=None)

    @sub.get("/items/{id:int}", name="sub_item")
    async def item(id: int, request: Request) -> dict[str, Any]:
        return {
            "id": id,
            "self": str(request.url_for("sub_item", id=id)),
            "path": request.url.path,
            "root_path": request.scope.get("root_path"),
        }

    return sub


async def raw_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = f"{scope['root_path']}|{scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_mounted_prow_app_serves_its_routes() -> None:
    app = App()
    app.mount("/sub", make_sub_app())

    @app.get("/own")
    async def own() -> str:
        return "own"

    client = TestClient(app)
    response = client.get("/sub/items/3")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == 3
    assert body["path"] == "/sub/items/3"
    assert body["root_path"] == "/sub"
    assert client.get("/own").json() == "own"
    missing = client.get("/sub/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_mounted_app_url_for_includes_the_prefix() -> None:
    app = App()
    app.mount("/sub", make_sub_app())
    body = TestClient(app).get("/sub/items/3").json()
    assert body["self"] == "http://testserver/sub/items/3"


def test_mounting_raw_asgi_callable() -> None:
    app = App()
    app.mount("/raw", raw_asgi)
    client = TestClient(app)
    assert client.get("/raw/a/b").text == "/raw|/raw/a/b"
    assert client.get("/raw").text == "/raw|/raw"
    assert client.get("/rawish").status_code == 404


def test_routes_win_over_mounts_and_longest_mount_first() -> None:
    app = App()
    app.mount("/a", raw_asgi)
    app.mount("/a/b", make_sub_app())

    @app.get("/a/route")
    async def route() -> str:
        return "route"

    client = TestClient(app)
    assert client.get("/a/route").json() == "route"
    assert client.get("/a/b/items/1").json()["root_path"] == "/a/b"
    assert client.get("/a/zzz").text == "/a|/a/zzz"


def test_mount_in_a_router_gets_its_prefix() -> None:
    router = Router(prefix="/v1")
    router.mount("/raw", raw_asgi, name="raw")
    app = App()
    app.include(router)
    assert TestClient(app).get("/v1/raw/x").text == "/v1/raw|/v1/raw/x"
    assert app.url_for("raw", path="x/y") == "/v1/raw/x/y"


def test_mounting_a_flask_app() -> None:
    flask = pytest.importorskip("flask")
    legacy = flask.Flask("legacy")

    @legacy.route("/hello")
    def hello() -> Any:
        return flask.jsonify(
            hello=flask.request.args.get("name", "world"),
            script_root=flask.request.script_root,
        )

    @legacy.route("/echo", methods=["POST"])
    def echo() -> Any:
        return flask.request.get_data()

    app = App()
    app.mount("/legacy", legacy)
    client = TestClient(app)
    response = client.get("/legacy/hello?name=ada")
    assert response.status_code == 200
    assert response.json() == {"hello": "ada", "script_root": "/legacy"}
    assert client.post("/legacy/echo", content=b"payload").content == b"payload"
    assert client.get("/legacy/missing").status_code == 404


def test_static_files_mount(tmp_path: Path) -> None:
    staticfiles = pytest.importorskip("prow.staticfiles")
    (tmp_path / "app.css").write_text("body { color: red }")
    app = App()
    app.mount("/static", staticfiles.StaticFiles(directory=tmp_path), name="static")
    client = TestClient(app)
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert response.text == "body { color: red }"
    assert response.headers["content-type"].startswith("text/css")
    assert client.get("/static/missing.css").status_code == 404
    assert client.get("/static/../secret").status_code == 404
    assert app.url_for("static", path="app.css") == "/static/app.css"
