"""The error answers an operation documents: derived from its plan, each where it can happen."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated, Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel
from sqlalchemy import CheckConstraint, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, Depends, Form, HTTPError, Request
from prow.auth import Auth, CurrentUser, OptionalUser, requires
from prow.db import Model, Resource, Session, database
from prow.ratelimit import rate_limit
from prow.testing import TestClient

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
VALIDATION = {"$ref": "#/components/schemas/ValidationProblem"}


class Note(BaseModel):
    text: str


class Gadget(Model):
    __tablename__ = "openapi_gadget"
    # Not a simple bound: only the database can enforce it (a 422 naming the constraint).
    __table_args__ = (CheckConstraint("low < high", name="low_below_high"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    low: Mapped[int]
    high: Mapped[int]
    seen: Mapped[datetime.datetime]
    stamped: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))


def responses_of(app: App, path: str, method: str) -> dict[str, Any]:
    document = app.openapi()
    validate(document)
    result: dict[str, Any] = document["paths"][path][method]["responses"]
    return result


def problem_of(response: dict[str, Any]) -> Any:
    return response["content"]["application/problem+json"]["schema"]


def test_what_a_body_and_parameters_can_cause() -> None:
    app = App()

    @app.post("/notes", csrf=False)
    async def add(note: Note) -> Note:
        return note

    @app.get("/search")
    async def search(q: str) -> list[str]:
        return []

    @app.get("/plain")
    async def plain() -> str:
        return ""

    body = responses_of(app, "/notes", "post")
    assert set(body) == {"200", "400", "413", "415", "422"}
    assert problem_of(body["422"]) == VALIDATION
    assert all(problem_of(body[s]) == PROBLEM for s in ("400", "413", "415"))
    assert set(responses_of(app, "/search", "get")) == {"200", "422"}
    assert set(responses_of(app, "/plain", "get")) == {"200"}


def test_csrf_protected_unsafe_methods_document_403() -> None:
    app = App()

    @app.post("/vote")
    async def vote() -> None:
        return None

    @app.post("/hook", csrf=False)
    async def hook() -> None:
        return None

    assert "CSRF" in responses_of(app, "/vote", "post")["403"]["description"]
    assert "403" not in responses_of(app, "/hook", "post")


def auth_app() -> App:
    app = App(secret_key=SECRET, database_url="sqlite+aiosqlite://")
    Auth(app)

    @app.get("/mine")
    async def mine(user: CurrentUser) -> str:
        return user.username

    @app.get("/maybe")
    async def maybe(user: OptionalUser) -> str:
        return "" if user is None else user.username

    @app.delete("/things/{thing_id}", dependencies=[requires("thing.delete")], status_code=204)
    async def remove(thing_id: int) -> None:
        return None

    @app.get("/limited", dependencies=[rate_limit("5/minute")])
    async def limited() -> str:
        return ""

    return app


def test_authentication_permissions_and_rate_limits_document_their_answers() -> None:
    app = auth_app()
    mine = responses_of(app, "/mine", "get")
    assert {"401", "503"} <= set(mine) and "403" not in mine
    assert "WWW-Authenticate" in mine["401"]["headers"]
    removal = responses_of(app, "/things/{thing_id}", "delete")
    assert {"401", "403", "404", "422", "503"} <= set(removal)
    assert "thing.delete" in removal["403"]["description"]
    limited = responses_of(app, "/limited", "get")
    assert {"429", "503"} <= set(limited) and problem_of(limited["429"]) == PROBLEM
    assert "Retry-After" in limited["429"]["headers"]


def test_optional_authentication_is_documented_as_optional() -> None:
    paths = auth_app().openapi()["paths"]
    required = paths["/mine"]["get"]["security"]
    assert {} not in required and {"OAuth2PasswordBearer": []} in required
    optional = paths["/maybe"]["get"]["security"]
    assert optional[0] == {} and optional[1:] == required
    # Wrong credentials are refused even where none are needed.
    assert "401" in paths["/maybe"]["get"]["responses"]


def test_database_sessions_document_outages_conflicts_and_missing_rows() -> None:
    app = App(database_url="sqlite+aiosqlite://")

    @app.get("/count")
    async def count(session: Session) -> int:
        return 0

    @app.post("/rows", csrf=False)
    async def add_row(session: Session) -> None:
        return None

    @app.get("/rows/{row_id}")
    async def read_row(row_id: int, session: Session) -> int:
        return row_id

    assert set(responses_of(app, "/count", "get")) == {"200", "503"}
    assert set(responses_of(app, "/rows", "post")) == {"200", "409", "422", "503"}
    assert set(responses_of(app, "/rows/{row_id}", "get")) == {"200", "404", "422", "503"}


def test_resource_routes_document_404_as_a_problem() -> None:
    app = App(database_url="sqlite+aiosqlite://")
    app.include(Resource(Gadget, prefix="/gadgets"))
    for method in ("get", "put", "patch", "delete"):
        answers = responses_of(app, "/gadgets/{pk}", method)
        assert problem_of(answers["404"]) == PROBLEM
    assert "404" not in responses_of(app, "/gadgets", "get")


def test_an_app_declares_its_own_error_shape() -> None:
    class Errors(BaseModel):
        errors: dict[str, list[str]]

    shape = {"model": Errors, "media_type": "application/json"}
    app = App(error_responses={"default": shape})

    @app.post("/things", csrf=False, responses={409: {"description": "Taken"}})
    async def add(note: Note) -> Note:
        return note

    answers = responses_of(app, "/things", "post")
    for status in ("400", "409", "413", "415", "422"):
        assert answers[status]["content"] == {
            "application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}
        }
    assert answers["409"]["description"] == "Taken"
    assert "ValidationProblem" not in app.openapi()["components"]["schemas"]


@pytest.mark.parametrize("own_shape", [False, True])
def test_an_answer_that_two_parts_can_give_keeps_its_schema(own_shape: bool) -> None:
    # The body's 422 and the database session's 422 are one answer: its schema was an empty
    # (match-anything) copy of the slot, and /auth/me's 401 and the logins' 503 likewise.
    class Errors(BaseModel):
        errors: dict[str, list[str]]

    shape = {"default": {"model": Errors, "media_type": "application/json"}}
    app = App(secret_key=SECRET, error_responses=shape if own_shape else {})
    app.install(Auth())

    @app.post("/rows", csrf=False, dependencies=[rate_limit("5/minute")])
    async def add_row(note: Note, user: OptionalUser, session: Session) -> None:
        return None

    paths = app.openapi()["paths"]
    for path, method in [("/rows", "post"), ("/auth/me", "get"), ("/auth/token", "post")]:
        for status, answer in paths[path][method]["responses"].items():
            if status[0] in "45":
                for media_type, content in answer["content"].items():
                    assert content["schema"], (path, status, media_type)
    answer = paths["/rows"]["post"]["responses"]["422"]
    if own_shape:
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Errors"
        }
    else:
        assert problem_of(answer) == VALIDATION


def test_a_handler_reading_its_own_body_documents_it() -> None:
    app = App()

    @app.post(
        "/import",
        csrf=False,
        request_body={"application/json": Note, "application/x-www-form-urlencoded": Note},
    )
    async def import_note(request: Request) -> str:
        return str((await request.json())["text"])

    operation = app.openapi()["paths"]["/import"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Note"}
    assert {"400", "413", "415", "422"} <= set(operation["responses"])


def test_timezone_less_datetimes_are_documented_as_sent(tmp_path: Path) -> None:
    app = App(database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.sqlite3'}")
    app.include(Resource(Gadget, prefix="/gadgets"))

    @app.on_startup
    async def tables() -> None:
        await database(app).create_all(Gadget.__table__)

    with TestClient(app) as client:
        body = {"name": "a", "low": 1, "high": 2, "seen": "2030-01-02T03:04:05"}
        created = client.post("/gadgets", json={**body, "stamped": "2030-01-02T03:04:05+02:00"})
        assert created.status_code == 201, created.text
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    shown = created.json()
    # A DATETIME column keeps no offset, so none is sent, and the document says so (an RFC
    # 3339 date-time requires one); a timezone-aware column's value is sent with its offset.
    assert shown["seen"] == "2030-01-02T03:04:05"
    assert "format" not in schemas["GadgetRead"]["properties"]["seen"]
    jsonschema.validate(shown["seen"], schemas["GadgetRead"]["properties"]["seen"])
    assert shown["stamped"] == "2030-01-02T01:04:05Z"
    assert schemas["GadgetRead"]["properties"]["stamped"]["format"] == "date-time"


def test_a_database_constraint_422_fits_the_documented_schema(tmp_path: Path) -> None:
    app = App(database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.sqlite3'}")
    app.include(Resource(Gadget, prefix="/gadgets"))

    @app.on_startup
    async def tables() -> None:
        await database(app).create_all(Gadget.__table__)

    with TestClient(app) as client:
        body = {"name": "a", "low": 5, "high": 1, "seen": "2030-01-02T03:04:05"}
        refused = client.post("/gadgets", json={**body, "stamped": "2030-01-02T03:04:05Z"})
        invalid = client.post("/gadgets", json={"name": 5})
        document = client.get("/openapi.json").json()
    assert refused.status_code == 422
    assert refused.json()["constraint"] == "ck_openapi_gadget_low_below_high"
    assert invalid.status_code == 422 and invalid.json()["errors"]
    documented = problem_of(document["paths"]["/gadgets"]["post"]["responses"]["422"])
    schema = {**documented, "components": document["components"]}
    for answer in (refused, invalid):
        assert answer.headers["content-type"] == "application/problem+json"
        jsonschema.validate(answer.json(), schema)


def test_check_constraints_with_simple_bounds_are_validated_and_documented() -> None:
    class Priced(Model):
        __tablename__ = "openapi_priced"
        __table_args__ = (
            CheckConstraint("price > 0", name="price"),
            CheckConstraint("length(code) >= 2", name="code"),
            CheckConstraint("stock <= 500", name="stock"),
        )
        id: Mapped[int] = mapped_column(primary_key=True)
        code: Mapped[str] = mapped_column(String(8))
        price: Mapped[float]
        stock: Mapped[int]

    app = App(database_url="sqlite+aiosqlite://")
    app.include(Resource(Priced, prefix="/priced"))
    schemas = app.openapi()["components"]["schemas"]
    fields = schemas["PricedCreate"]["properties"]
    assert fields["price"]["exclusiveMinimum"] == 0
    assert (fields["code"]["minLength"], fields["code"]["maxLength"]) == (2, 8)
    assert fields["stock"]["maximum"] == 500


@pytest.mark.parametrize("value", ["0", "1700000000", "-1.5", "1e3"])
def test_dates_are_read_as_dates_not_timestamps(value: str, tmp_path: Path) -> None:
    app = App(database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.sqlite3'}")
    app.include(Resource(Gadget, prefix="/gadgets", filter_fields=["seen"]))

    @app.on_startup
    async def tables() -> None:
        await database(app).create_all(Gadget.__table__)

    with TestClient(app) as client:
        # A date-time is documented; a number is not one, though pydantic would read it.
        assert client.get(f"/gadgets?seen__gte={value}").status_code == 422
        body = {"name": "a", "low": 1, "high": 2, "seen": float(value)}
        answer = client.post("/gadgets", json={**body, "stamped": "2030-01-02T03:04:05Z"})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["loc"] == ["body", "seen"]


def test_a_route_model_for_an_error_replaces_the_generated_schema() -> None:
    class Missing(BaseModel):
        detail: str

    app = App()

    @app.get("/x/{x_id}", responses={404: {"model": Missing}})
    async def x(x_id: int) -> int:
        raise HTTPError(404)

    answers = responses_of(app, "/x/{x_id}", "get")
    assert answers["404"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Missing"}}
    }


def form_token(value: Annotated[str, Form()]) -> str:
    return value


def test_form_and_dependency_bodies_count_as_bodies() -> None:
    app = App()

    @app.post("/form", csrf=False)
    async def form(got: Annotated[str, Depends(form_token)]) -> str:
        return got

    assert {"400", "413", "415", "422"} <= set(responses_of(app, "/form", "post"))
