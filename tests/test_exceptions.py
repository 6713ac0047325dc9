"""``HTTPError`` as a value: its problem document and its ``extra`` members."""

from __future__ import annotations

from prow import App, HTTPError, JSONResponse, Request, RequestValidationError
from prow.testing import TestClient


def test_extra_is_an_empty_mapping_by_default() -> None:
    for error in (HTTPError(404), HTTPError(404, "gone", extra=None), HTTPError(400, extra={})):
        assert error.extra == {}
        assert error.extra.get("field", "body") == "body"  # no `or {}` needed
        assert set(error.problem()) == {"type", "title", "status", "detail"}


def test_extra_members_join_the_problem_document() -> None:
    given = {"field": "email"}
    error = HTTPError(409, "taken", extra=given)
    assert error.problem()["field"] == "email"
    given["field"] = "changed"
    assert error.extra == {"field": "email"}  # a copy: the caller's dict stays theirs
    assert RequestValidationError([]).extra == {"errors": []}


def test_handlers_read_extra_without_a_none_check() -> None:
    def reshape(request: Request, exc: HTTPError) -> JSONResponse:
        return JSONResponse({exc.extra.get("field", "body"): exc.detail}, exc.status)

    app = App(exception_handlers={HTTPError: reshape})

    @app.get("/named")
    async def named() -> None:
        raise HTTPError(400, "bad", extra={"field": "name"})

    @app.get("/plain")
    async def plain() -> None:
        raise HTTPError(400, "bad")

    client = TestClient(app)
    assert client.get("/named").json() == {"name": "bad"}
    assert client.get("/plain").json() == {"body": "bad"}
    assert client.get("/nowhere").json() == {"body": "No route matches /nowhere"}
