"""What a handler returns becomes the response: JSON, filtered models, statuses, classes."""

import dataclasses
import datetime
import decimal
import uuid
from typing import Any

from pydantic import BaseModel

from prow import App, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from prow.testing import TestClient


class PublicUser(BaseModel):
    id: int
    name: str


class PrivateUser(PublicUser):
    password: str


@dataclasses.dataclass
class Pair:
    left: int
    right: int


class Created(BaseModel):
    id: uuid.UUID
    at: datetime.datetime
    amount: decimal.Decimal


def test_plain_values_become_json() -> None:
    app = App()

    @app.get("/dict")
    async def as_dict() -> dict[str, int]:
        return {"a": 1}

    @app.get("/list")
    async def as_list() -> list[int]:
        return [1, 2]

    @app.get("/model")
    async def as_model() -> PublicUser:
        return PublicUser(id=1, name="ada")

    @app.get("/dataclass")
    async def as_dataclass() -> Pair:
        return Pair(1, 2)

    @app.get("/unannotated")
    async def unannotated():  # type: ignore[no-untyped-def]
        return {"free": PublicUser(id=2, name="bob")}

    client = TestClient(app)
    response = client.get("/dict")
    assert response.json() == {"a": 1}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(response.content))
    assert client.get("/list").json() == [1, 2]
    assert client.get("/model").json() == {"id": 1, "name": "ada"}
    assert client.get("/dataclass").json() == {"left": 1, "right": 2}
    assert client.get("/unannotated").json() == {"free": {"id": 2, "name": "bob"}}


def test_return_annotation_filters_extra_fields() -> None:
    app = App()

    @app.get("/subclass")
    async def subclass() -> PublicUser:
        return PrivateUser(id=1, name="ada", password="hunter2")

    @app.get("/dict")
    async def from_dict() -> PublicUser:
        return {"id": 2, "name": "bob", "password": "hunter2"}  # type: ignore[return-value]

    @app.get("/list")
    async def listing() -> list[PublicUser]:
        return [PrivateUser(id=3, name="cy", password="x")]

    client = TestClient(app)
    assert client.get("/subclass").json() == {"id": 1, "name": "ada"}
    assert client.get("/dict").json() == {"id": 2, "name": "bob"}
    assert client.get("/list").json() == [{"id": 3, "name": "cy"}]


def test_response_model_option_overrides_annotation() -> None:
    app = App()

    @app.get("/me", response_model=PublicUser)
    async def me() -> dict[str, Any]:
        return {"id": 1, "name": "ada", "password": "secret"}

    assert TestClient(app).get("/me").json() == {"id": 1, "name": "ada"}


def test_response_model_none_disables_filtering() -> None:
    app = App()

    @app.get("/raw", response_model=None)
    async def raw() -> PublicUser:
        return PrivateUser(id=1, name="ada", password="visible")

    assert TestClient(app).get("/raw").json() == {"id": 1, "name": "ada", "password": "visible"}


def test_status_codes() -> None:
    app = App()

    @app.post("/items", status_code=201)
    async def create() -> dict[str, int]:
        return {"id": 1}

    @app.delete("/items/{id:int}", status_code=204)
    async def delete(id: int) -> None:
        return None

    client = TestClient(app)
    created = client.post("/items")
    assert created.status_code == 201
    assert created.json() == {"id": 1}
    deleted = client.delete("/items/1")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert "content-type" not in deleted.headers


def test_returning_a_response_sends_it_as_is() -> None:
    app = App()

    @app.get("/text")
    async def text() -> PlainTextResponse:
        return PlainTextResponse("hello", status_code=203, headers={"X-A": "1"})

    @app.get("/redirect")
    async def redirect() -> RedirectResponse:
        return RedirectResponse("/text")

    @app.get("/either")
    async def either(raw: bool = False) -> PublicUser | Response:
        if raw:
            return Response(b"raw bytes", media_type="application/octet-stream")
        return PrivateUser(id=1, name="a", password="p")

    @app.get("/json", status_code=201)
    async def json_response() -> JSONResponse:
        return JSONResponse({"explicit": True}, status_code=200)

    client = TestClient(app, follow_redirects=False)
    response = client.get("/text")
    assert (response.status_code, response.text) == (203, "hello")
    assert response.headers["x-a"] == "1"
    assert response.headers["content-type"].startswith("text/plain")
    assert client.get("/redirect").headers["location"] == "/text"
    assert client.get("/either").json() == {"id": 1, "name": "a"}
    assert client.get("/either?raw=1").content == b"raw bytes"
    explicit = client.get("/json")
    assert (explicit.status_code, explicit.json()) == (200, {"explicit": True})


def test_response_class_html() -> None:
    app = App()

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<h1>Hi</h1>"

    response = TestClient(app).get("/page")
    assert response.text == "<h1>Hi</h1>"
    assert response.headers["content-type"].startswith("text/html")


def test_rich_values_serialise() -> None:
    app = App()
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

    @app.get("/model")
    async def model() -> Created:
        return Created(id=ident, at=moment, amount=decimal.Decimal("1.50"))

    @app.get("/plain")
    async def plain() -> dict[str, Any]:
        return {
            "id": ident,
            "at": moment,
            "day": moment.date(),
            "amount": decimal.Decimal("2.25"),
        }

    client = TestClient(app)
    assert client.get("/model").json() == {
        "id": str(ident),
        "at": "2024-01-02T03:04:05Z",
        "amount": "1.50",
    }
    assert client.get("/plain").json() == {
        "id": str(ident),
        "at": "2024-01-02T03:04:05Z",
        "day": "2024-01-02",
        "amount": "2.25",
    }


def test_value_violating_the_declared_model_is_a_server_error() -> None:
    app = App()

    @app.get("/bad")
    async def bad() -> PublicUser:
        return {"id": "not a number"}  # type: ignore[return-value]

    response = TestClient(app, raise_server_exceptions=False).get("/bad")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    # The client is not told which internal field went wrong.
    assert "not a number" not in response.text
