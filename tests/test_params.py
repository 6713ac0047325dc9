"""Handler parameters: query, header, cookie, JSON body, forms, files and injected objects."""

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from prow import (
    App,
    BackgroundTasks,
    Body,
    Cookie,
    Depends,
    File,
    Form,
    Header,
    PlainTextResponse,
    Query,
    Request,
    Response,
    UploadFile,
)
from prow.testing import TestClient

PROBLEM = "application/problem+json"


def errors_of(response: Any) -> list[dict[str, Any]]:
    """The ``errors`` of a 422 problem answer, after checking its envelope."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 422
    for entry in body["errors"]:
        assert set(entry) >= {"loc", "msg", "type"}
    errors: list[dict[str, Any]] = body["errors"]
    return errors


def locs(response: Any) -> list[list[Any]]:
    return [e["loc"] for e in errors_of(response)]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)


class Address(BaseModel):
    city: str
    zip: str


class Person(BaseModel):
    name: str
    address: Address
    tags: list[str] = []


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


class Login(BaseModel):
    username: str
    remember: bool = False


# -- query ------------------------------------------------------------------------------


@pytest.fixture
def query_client() -> TestClient:
    app = App()

    @app.get("/plain")
    async def plain(limit: int = 10, q: str | None = None) -> dict[str, Any]:
        return {"limit": limit, "q": q}

    @app.get("/required")
    async def required(limit: int, offset: int) -> dict[str, int]:
        return {"limit": limit, "offset": offset}

    @app.get("/list")
    async def many(ids: Annotated[list[int], Query()] = []) -> dict[str, list[int]]:  # noqa: B006
        return {"ids": ids}

    @app.get("/bool")
    async def flag(on: bool) -> dict[str, bool]:
        return {"on": on}

    @app.get("/typed")
    async def typed(
        color: Color,
        mode: Literal["fast", "slow"],
        uid: uuid.UUID,
        when: datetime.datetime,
        day: datetime.date,
        amount: decimal.Decimal,
    ) -> dict[str, str]:
        return {
            "color": color.name,
            "mode": mode,
            "uid": uid.hex,
            "when": when.isoformat(),
            "day": day.isoformat(),
            "amount": str(amount + 1),
        }

    @app.get("/constrained")
    async def constrained(
        size: Annotated[int, Query(ge=1, le=10, alias="page-size")] = 5,
        count: Annotated[int, Field(gt=0)] = 1,
    ) -> dict[str, int]:
        return {"size": size, "count": count}

    return TestClient(app)


def test_query_defaults_and_values(query_client: TestClient) -> None:
    assert query_client.get("/plain").json() == {"limit": 10, "q": None}
    assert query_client.get("/plain?limit=3&q=hi").json() == {"limit": 3, "q": "hi"}


def test_query_bad_int(query_client: TestClient) -> None:
    errors = errors_of(query_client.get("/plain?limit=many"))
    assert errors == [
        {
            "loc": ["query", "limit"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "type": "int_parsing",
            "input": "many",
        }
    ]


def test_query_required_missing_names_every_field(query_client: TestClient) -> None:
    errors = errors_of(query_client.get("/required"))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["query", "limit"], "missing"),
        (["query", "offset"], "missing"),
    ]
    assert query_client.get("/required?limit=1&offset=2").json() == {"limit": 1, "offset": 2}


def test_query_list_collects_repeated_keys(query_client: TestClient) -> None:
    assert query_client.get("/list?ids=1&ids=2&ids=3").json() == {"ids": [1, 2, 3]}
    assert query_client.get("/list").json() == {"ids": []}
    assert locs(query_client.get("/list?ids=1&ids=x")) == [["query", "ids", 1]]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("yes", True), ("on", True), ("false", False), ("0", False)],
)
def test_query_bool_parsing(query_client: TestClient, raw: str, expected: bool) -> None:
    assert query_client.get(f"/bool?on={raw}").json() == {"on": expected}


def test_query_bool_rejects_garbage(query_client: TestClient) -> None:
    errors = errors_of(query_client.get("/bool?on=maybe"))
    assert errors[0]["type"] == "bool_parsing"


def test_query_rich_types(query_client: TestClient) -> None:
    uid = uuid.uuid4()
    response = query_client.get(
        "/typed",
        params={
            "color": "blue",
            "mode": "slow",
            "uid": str(uid),
            "when": "2024-05-06T07:08:09",
            "day": "2024-05-06",
            "amount": "1.10",
        },
    )
    assert response.json() == {
        "color": "BLUE",
        "mode": "slow",
        "uid": uid.hex,
        "when": "2024-05-06T07:08:09",
        "day": "2024-05-06",
        "amount": "2.10",
    }


def test_query_rich_types_errors(query_client: TestClient) -> None:
    response = query_client.get(
        "/typed",
        params={
            "color": "green",
            "mode": "medium",
            "uid": "nope",
            "when": "yesterday",
            "day": "2024-13-01",
            "amount": "lots",
        },
    )
    errors = errors_of(response)
    assert [e["loc"] for e in errors] == [
        ["query", "color"],
        ["query", "mode"],
        ["query", "uid"],
        ["query", "when"],
        ["query", "day"],
        ["query", "amount"],
    ]
    assert errors[0]["type"] == "enum"
    assert errors[1]["type"] == "literal_error"


def test_query_constraints_and_alias(query_client: TestClient) -> None:
    assert query_client.get("/constrained").json() == {"size": 5, "count": 1}
    assert query_client.get("/constrained?page-size=7&count=2").json() == {"size": 7, "count": 2}
    errors = errors_of(query_client.get("/constrained?page-size=11&count=0"))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["query", "page-size"], "less_than_equal"),
        (["query", "count"], "greater_than"),
    ]
    # The Python name is not the public one.
    assert query_client.get("/constrained?size=11").json() == {"size": 5, "count": 1}


# -- header and cookie -------------------------------------------------------------------


@pytest.fixture
def header_client() -> TestClient:
    app = App()

    @app.get("/headers")
    async def headers(
        x_token: Annotated[str, Header()],
        user_agent: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return {"token": x_token, "agent": user_agent}

    @app.get("/raw-header")
    async def raw(
        x_under: Annotated[str, Header(convert_underscores=False)] = "absent",
    ) -> dict[str, str]:
        return {"value": x_under}

    @app.get("/number")
    async def number(x_count: Annotated[int, Header()]) -> dict[str, int]:
        return {"count": x_count}

    @app.get("/cookie")
    async def cookie(
        session: Annotated[str, Cookie()], theme: Annotated[str, Cookie()] = "light"
    ) -> dict[str, str]:
        return {"session": session, "theme": theme}

    return TestClient(app)


def test_header_underscores_become_dashes(header_client: TestClient) -> None:
    response = header_client.get("/headers", headers={"X-Token": "abc", "User-Agent": "me"})
    assert response.json() == {"token": "abc", "agent": "me"}


def test_header_missing(header_client: TestClient) -> None:
    errors = errors_of(header_client.get("/headers"))
    assert [(e["loc"], e["type"]) for e in errors] == [(["header", "x-token"], "missing")]


def test_header_convert_underscores_false(header_client: TestClient) -> None:
    # Not every server forwards headers with underscores, but prow reads them as given.
    assert header_client.get("/raw-header", headers={"x-under": "dash"}).json() == {
        "value": "absent"
    }
    assert header_client.get("/raw-header", headers={"x_under": "under"}).json() == {
        "value": "under"
    }


def test_header_typed(header_client: TestClient) -> None:
    assert header_client.get("/number", headers={"x-count": "4"}).json() == {"count": 4}
    assert locs(header_client.get("/number", headers={"x-count": "four"})) == [
        ["header", "x-count"]
    ]


def test_cookies(header_client: TestClient) -> None:
    response = header_client.get("/cookie", headers={"Cookie": "session=s1; theme=dark"})
    assert response.json() == {"session": "s1", "theme": "dark"}
    assert locs(header_client.get("/cookie")) == [["cookie", "session"]]


# -- JSON bodies -------------------------------------------------------------------------


@pytest.fixture
def body_client() -> TestClient:
    app = App()

    @app.post("/item")
    async def item(item: Item) -> dict[str, Any]:
        return {"name": item.name, "price": item.price, "type": type(item).__name__}

    @app.post("/person")
    async def person(person: Person) -> dict[str, Any]:
        return {"city": person.address.city, "tags": person.tags}

    @app.post("/point")
    async def point(p: Point) -> dict[str, Any]:
        return {"sum": p.x + p.y, "type": type(p).__name__}

    @app.post("/movie")
    async def movie(m: Movie) -> dict[str, Any]:
        return {"title": m["title"], "year": m["year"]}

    @app.post("/embedded")
    async def embedded(item: Annotated[Item, Body(embed=True)]) -> dict[str, str]:
        return {"name": item.name}

    @app.post("/two")
    async def two(item: Item, point: Point) -> dict[str, Any]:
        return {"name": item.name, "x": point.x}

    @app.post("/scalar-with-model")
    async def scalar(item: Item, importance: Annotated[int, Body()]) -> dict[str, Any]:
        return {"name": item.name, "importance": importance}

    @app.post("/optional")
    async def optional(item: Item | None = None) -> dict[str, Any]:
        return {"item": None if item is None else item.name}

    return TestClient(app)


def test_json_body_model(body_client: TestClient) -> None:
    response = body_client.post("/item", json={"name": "pen", "price": 1.5})
    assert response.json() == {"name": "pen", "price": 1.5, "type": "Item"}


def test_json_body_invalid_fields(body_client: TestClient) -> None:
    errors = errors_of(body_client.post("/item", json={"price": -1}))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "name"], "missing"),
        (["body", "price"], "greater_than"),
    ]


def test_json_body_missing(body_client: TestClient) -> None:
    errors = errors_of(body_client.post("/item"))
    assert [(e["loc"], e["type"]) for e in errors] == [(["body"], "missing")]


def test_json_body_nested(body_client: TestClient) -> None:
    payload = {"name": "ada", "address": {"city": "London", "zip": "N1"}, "tags": ["x"]}
    assert body_client.post("/person", json=payload).json() == {"city": "London", "tags": ["x"]}
    bad = {"name": "ada", "address": {"city": "London"}}
    assert locs(body_client.post("/person", json=bad)) == [["body", "address", "zip"]]


def test_json_body_dataclass_and_typeddict(body_client: TestClient) -> None:
    assert body_client.post("/point", json={"x": 1, "y": 2}).json() == {"sum": 3, "type": "Point"}
    assert body_client.post("/movie", json={"title": "M", "year": 1931}).json() == {
        "title": "M",
        "year": 1931,
    }
    assert locs(body_client.post("/movie", json={"title": "M", "year": "old"})) == [
        ["body", "year"]
    ]


def test_json_body_embed(body_client: TestClient) -> None:
    payload = {"item": {"name": "cup", "price": 2}}
    assert body_client.post("/embedded", json=payload).json() == {"name": "cup"}
    assert locs(body_client.post("/embedded", json={"name": "cup", "price": 2})) == [
        ["body", "item"]
    ]


def test_two_bodies_embed_by_name(body_client: TestClient) -> None:
    payload = {"item": {"name": "cup", "price": 2}, "point": {"x": 5, "y": 0}}
    assert body_client.post("/two", json=payload).json() == {"name": "cup", "x": 5}
    errors = errors_of(body_client.post("/two", json={"item": {"name": "cup", "price": 2}}))
    assert [(e["loc"], e["type"]) for e in errors] == [(["body", "point"], "missing")]


def test_model_and_scalar_body(body_client: TestClient) -> None:
    payload = {"item": {"name": "cup", "price": 2}, "importance": 3}
    assert body_client.post("/scalar-with-model", json=payload).json() == {
        "name": "cup",
        "importance": 3,
    }


def test_optional_body_absent(body_client: TestClient) -> None:
    assert body_client.post("/optional").json() == {"item": None}
    assert body_client.post("/optional", json={"name": "a", "price": 1}).json() == {"item": "a"}


def test_malformed_json_is_400(body_client: TestClient) -> None:
    response = body_client.post(
        "/item", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "not valid JSON" in response.json()["detail"]


def test_wrong_content_type_is_415(body_client: TestClient) -> None:
    response = body_client.post(
        "/item", content=b"name=pen", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert "application/json" in response.json()["detail"]


def test_json_suffix_content_type_is_accepted(body_client: TestClient) -> None:
    response = body_client.post(
        "/item",
        content=json.dumps({"name": "pen", "price": 1}).encode(),
        headers={"content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 200


# -- forms and files --------------------------------------------------------------------


@pytest.fixture
def form_client() -> TestClient:
    app = App()

    @app.post("/login")
    async def login(
        username: Annotated[str, Form()],
        password: Annotated[str, Form(min_length=3)],
        remember: Annotated[bool, Form()] = False,
    ) -> dict[str, Any]:
        return {"username": username, "remember": remember, "length": len(password)}

    @app.post("/login-model")
    async def login_model(data: Annotated[Login, Form()]) -> dict[str, Any]:
        return {"username": data.username, "remember": data.remember}

    @app.post("/upload")
    async def upload(
        file: UploadFile,
        raw: Annotated[bytes, File()],
        note: Annotated[str, Form()] = "",
    ) -> dict[str, Any]:
        content = await file.read()
        return {
            "filename": file.filename,
            "content_type": file.content_type,
            "content": content.decode(),
            "raw": raw.decode(),
            "note": note,
        }

    @app.post("/many")
    async def many(files: Annotated[list[UploadFile], File()]) -> dict[str, Any]:
        return {"names": [f.filename for f in files]}

    return TestClient(app)


def test_urlencoded_form(form_client: TestClient) -> None:
    response = form_client.post(
        "/login", data={"username": "ada", "password": "secret", "remember": "on"}
    )
    assert response.json() == {"username": "ada", "remember": True, "length": 6}


def test_form_validation(form_client: TestClient) -> None:
    errors = errors_of(form_client.post("/login", data={"password": "x"}))
    assert [(e["loc"], e["type"]) for e in errors] == [
        (["body", "username"], "missing"),
        (["body", "password"], "string_too_short"),
    ]


def test_form_wrong_content_type(form_client: TestClient) -> None:
    response = form_client.post("/login", json={"username": "ada", "password": "secret"})
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM


def test_form_model(form_client: TestClient) -> None:
    response = form_client.post("/login-model", data={"username": "ada", "remember": "true"})
    assert response.json() == {"username": "ada", "remember": True}
    assert locs(form_client.post("/login-model", data={"remember": "true"})) == [
        ["body", "username"]
    ]


def test_multipart_upload(form_client: TestClient) -> None:
    response = form_client.post(
        "/upload",
        data={"note": "hi"},
        files={
            "file": ("a.txt", b"alpha", "text/plain"),
            "raw": ("b.bin", b"beta", "application/octet-stream"),
        },
    )
    assert response.json() == {
        "filename": "a.txt",
        "content_type": "text/plain",
        "content": "alpha",
        "raw": "beta",
        "note": "hi",
    }


def test_multipart_missing_file(form_client: TestClient) -> None:
    response = form_client.post("/upload", files={"raw": ("b.bin", b"beta")})
    assert locs(response) == [["body", "file"]]


def test_multipart_list_of_files(form_client: TestClient) -> None:
    response = form_client.post(
        "/many", files=[("files", ("one.txt", b"1")), ("files", ("two.txt", b"2"))]
    )
    assert response.json() == {"names": ["one.txt", "two.txt"]}


# -- injected objects --------------------------------------------------------------------


def test_request_injected_by_type() -> None:
    app = App()

    @app.post("/echo/{name}")
    async def echo(req: Request) -> dict[str, Any]:
        return {
            "method": req.method,
            "path": req.url.path,
            "params": req.path_params,
            "query": dict(req.query_params),
            "body": (await req.body()).decode(),
        }

    response = TestClient(app).post("/echo/bob?x=1", content=b"payload")
    assert response.json() == {
        "method": "POST",
        "path": "/echo/bob",
        "params": {"name": "bob"},
        "query": {"x": "1"},
        "body": "payload",
    }


def test_background_tasks_run_after_response() -> None:
    events: list[str] = []
    app = App()

    def record(label: str) -> None:
        events.append(label)

    @app.post("/job")
    async def job(tasks: BackgroundTasks) -> dict[str, bool]:
        tasks.add_task(record, "task")
        events.append("handler")
        return {"queued": True}

    response = TestClient(app).post("/job")
    assert response.json() == {"queued": True}
    assert events == ["handler", "task"]


def test_response_parameter_sets_cookie_header_and_status() -> None:
    app = App()

    @app.post("/login")
    async def login(response: Response) -> dict[str, bool]:
        response.set_cookie("session", "abc", httponly=True)
        response.headers["X-Extra"] = "yes"
        response.status_code = 202
        return {"ok": True}

    result = TestClient(app).post("/login")
    assert result.status_code == 202
    assert result.json() == {"ok": True}
    assert result.headers["x-extra"] == "yes"
    assert "session=abc" in result.headers["set-cookie"]
    assert "httponly" in result.headers["set-cookie"].lower()
    assert result.headers["content-type"] == "application/json"


def test_optional_and_list_query_without_markers() -> None:
    app = App()

    @app.get("/opt")
    async def opt(
        limit: int | None = None,
        tags: list[str] = [],  # noqa: B006 - prow copies list defaults per request
        ids: list[int] | None = None,
    ) -> dict[str, Any]:
        tags.append("seen")
        return {"limit": limit, "tags": tags, "ids": ids}

    client = TestClient(app)
    assert client.get("/opt").json() == {"limit": None, "tags": ["seen"], "ids": None}
    assert client.get("/opt").json()["tags"] == ["seen"]
    assert client.get("/opt?limit=2&tags=a&tags=b&ids=1&ids=2").json() == {
        "limit": 2,
        "tags": ["a", "b", "seen"],
        "ids": [1, 2],
    }
    assert locs(client.get("/opt?limit=")) == [["query", "limit"]]
    assert locs(client.get("/opt?limit=abc")) == [["query", "limit"]]


def test_repeated_header_into_list() -> None:
    app = App()

    @app.get("/tags")
    async def tags(x_tag: Annotated[list[str], Header()] = []) -> list[str]:  # noqa: B006
        return x_tag

    client = TestClient(app)
    assert client.get("/tags", headers=[("x-tag", "a"), ("x-tag", "b")]).json() == ["a", "b"]
    assert client.get("/tags").json() == []


def test_body_read_by_a_dependency() -> None:
    app = App()

    def item_name(item: Item) -> str:
        return item.name.upper()

    @app.post("/shout")
    async def shout(name: Annotated[str, Depends(item_name)]) -> str:
        return name

    client = TestClient(app)
    assert client.post("/shout", json={"name": "pen", "price": 1}).json() == "PEN"
    assert locs(client.post("/shout", json={"price": 1})) == [["body", "name"]]


def test_path_values_arrive_decoded() -> None:
    app = App()

    @app.get("/hello/{name}")
    async def hello(name: str) -> str:
        return name

    assert TestClient(app).get("/hello/a%20b%C3%A9").json() == "a bé"


def test_response_parameter_with_204_and_returned_response() -> None:
    app = App()

    @app.post("/logout", status_code=204)
    async def logout(response: Response) -> None:
        response.delete_cookie("session")

    @app.get("/text")
    async def text(response: Response) -> PlainTextResponse:
        response.headers["X-Merged"] = "1"
        return PlainTextResponse("t")

    client = TestClient(app)
    result = client.post("/logout")
    assert result.status_code == 204
    assert result.content == b""
    assert result.headers["set-cookie"].startswith("session=")
    text_result = client.get("/text")
    assert (text_result.text, text_result.headers["x-merged"]) == ("t", "1")


def test_float_query_refuses_nan_and_infinity() -> None:
    app = App()

    @app.get("/")
    async def handler(x: float) -> dict[str, float]:
        return {"x": x}

    client = TestClient(app)
    assert client.get("/?x=1.5").json() == {"x": 1.5}
    for raw in ("nan", "inf", "-Infinity"):
        response = client.get(f"/?x={raw}")
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "finite_number"
