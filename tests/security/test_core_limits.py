"""Request limits: oversized bodies, deep JSON, huge forms and path traversal are refused."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from prow import App, Form, Request, Router, UploadFile
from prow.staticfiles import StaticFiles
from prow.testing import TestClient


def make_app(**kwargs: Any) -> App:
    app = App(**kwargs)

    @app.post("/echo")
    async def echo(data: dict[str, Any]) -> dict[str, Any]:
        return data

    @app.post("/small", max_body_size=10)
    async def small(request: Request) -> int:
        return len(await request.body())

    @app.post("/raw-json")
    async def raw_json(request: Request) -> Any:
        return await request.json()

    @app.post("/upload")
    async def upload(files: list[UploadFile]) -> int:
        return len(files)

    @app.post("/field")
    async def field(text: str = Form()) -> int:
        return len(text)

    uploads = Router(prefix="/big", max_body_size=100_000)

    @uploads.post("/file")
    async def big_file(file: UploadFile) -> int:
        return len(await file.read())

    app.include(uploads)
    return app


def test_body_past_the_app_limit_is_413_naming_the_limit() -> None:
    client = TestClient(make_app(max_body_size=1000))
    response = client.post("/echo", json={"a": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["detail"] == "Request body is larger than the 1000-byte limit"
    assert client.post("/echo", json={"a": "x"}).status_code == 200


def test_route_limit_overrides_the_app_limit() -> None:
    client = TestClient(make_app())
    assert client.post("/small", content=b"x" * 10).json() == 10
    response = client.post("/small", content=b"x" * 11)
    assert response.status_code == 413
    assert "10-byte limit" in response.json()["detail"]


def test_router_limit_can_raise_the_app_limit() -> None:
    client = TestClient(make_app(max_body_size=1000))
    files = {"file": ("big.bin", b"x" * 50_000)}
    assert client.post("/big/file", files=files).json() == 50_000
    too_big = {"file": ("big.bin", b"x" * 150_000)}
    response = client.post("/big/file", files=too_big)
    assert response.status_code == 413
    assert "100000-byte limit" in response.json()["detail"]


def test_streamed_body_without_length_is_cut_at_the_limit() -> None:
    client = TestClient(make_app())
    response = client.post("/small", content=iter([b"x" * 8, b"x" * 8]))
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/echo", "/raw-json"])
def test_deeply_nested_json_is_400(path: str) -> None:
    client = TestClient(make_app())
    deep = '{"a":' + "[" * 10_000 + "]" * 10_000 + "}"
    response = client.post(path, content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "recursion limit exceeded" in detail
    if path == "/raw-json":
        assert detail.startswith("JSON nested deeper than 200 levels")


def test_reasonable_nesting_is_fine() -> None:
    client = TestClient(make_app())
    nested = '{"a":' + "[" * 100 + "]" * 100 + "}"
    response = client.post("/echo", content=nested, headers={"content-type": "application/json"})
    assert response.status_code == 200


def test_too_many_files_is_413() -> None:
    client = TestClient(make_app())
    files = [("files", (f"f{i}.txt", b"x")) for i in range(1001)]
    response = client.post("/upload", files=files)
    assert response.status_code == 413
    assert response.json()["detail"] == "Too many files in the form: the limit is max_files=1000"


def test_too_many_fields_is_413() -> None:
    client = TestClient(make_app())
    body = "&".join(f"f{i}=1" for i in range(1001))
    response = client.post(
        "/field", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "max_fields=1000" in response.json()["detail"]


def test_oversized_form_field_is_413() -> None:
    client = TestClient(make_app())
    response = client.post("/field", data={"text": "x" * (1024 * 1024 + 1)})
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "Form field 'text' is larger than max_part_size=1048576 bytes"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e%2fsecret.txt",
        "/static/sub/../../secret.txt",
        "/static/..\\secret.txt",
    ],
)
def test_static_path_traversal_is_404(tmp_path: Path, path: str) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "ok.txt").write_text("fine")
    app = App()
    app.mount("/static", StaticFiles(directory=public))
    client = TestClient(app)
    assert client.get("/static/ok.txt").text == "fine"
    response = client.get(path)
    assert response.status_code == 404
    assert "top secret" not in response.text


@pytest.mark.anyio
@pytest.mark.parametrize("raw", ["/static/../secret.txt", "/static/sub/../../secret.txt"])
async def test_static_traversal_sent_raw_is_404(tmp_path: Path, raw: str) -> None:
    # httpx normalises "../" away before sending; a raw client does not, so send the scope.
    (tmp_path / "secret.txt").write_text("top secret")
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    app = App()
    app.mount("/static", StaticFiles(directory=public))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "GET",
        "path": raw,
        "raw_path": raw.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "http",
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 404
    assert b"top secret" not in b"".join(m.get("body", b"") for m in sent[1:])


def test_deep_json_for_a_model_names_the_depth_limit() -> None:
    app = App()

    @app.post("/deep")
    async def deep(payload: Payload) -> str:
        return "ok"

    body = "[" * 300 + "]" * 300
    answer = TestClient(app).post(
        "/deep", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("JSON nested deeper than 200 levels")


class Payload(BaseModel):
    value: object = None
