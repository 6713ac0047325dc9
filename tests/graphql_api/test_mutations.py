"""Mutations validated by the same schemas, answering errors in the documented shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from prow import Depends, Header, HTTPError
from prow.db import Resource

CREATE = """mutation($data: PoemCreateInput!) {
  createPoem(data: $data) { id title price anthology { name } }
}"""


def test_create_update_delete(catalogue: Any) -> None:
    api = catalogue()
    answer = api.query(CREATE, {"data": {"title": "new", "price": 7, "anthologyId": 3}})
    created = answer["data"]["createPoem"]
    assert created["title"] == "new" and created["anthology"] == {"name": "essay"}
    answer = api.query(
        "mutation($id: Int!) { updatePoem(id: $id, data: {price: 9}) { title price } }",
        {"id": created["id"]},
    )
    assert answer["data"]["updatePoem"] == {"title": "new", "price": 9}
    answer = api.query("mutation($id: Int!) { deletePoem(id: $id) }", {"id": created["id"]})
    assert answer["data"]["deletePoem"] == created["id"]
    answer = api.query("query($id: Int!) { poem(id: $id) { id } }", {"id": created["id"]})
    assert answer["data"]["poem"] is None
    # REST sees the same rows: committed with the request.
    answer = api.query('{ poems(filter: {title: "new"}) { totalCount } }')
    assert answer["data"]["poems"]["totalCount"] == 0


def test_invalid_input_names_each_field(catalogue: Any) -> None:
    api = catalogue()
    answer = api.query(CREATE, {"data": {"title": "x" * 81, "price": -1, "anthologyId": 1}})
    error = answer["errors"][0]
    assert error["message"] == "invalid input for createPoem"
    assert error["path"] == ["createPoem"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["status"] == 422
    fields = {tuple(entry["loc"]): entry["type"] for entry in error["extensions"]["errors"]}
    assert fields == {("data", "title"): "string_too_long", ("data", "price"): "greater_than_equal"}
    # a missing required field is GraphQL's own validation error
    answer = api.query(CREATE, {"data": {"title": "x"}})
    assert "price" in answer["errors"][0]["message"]


def test_a_database_refusal_is_a_conflict_and_undoes_only_that_mutation(catalogue: Any) -> None:
    api = catalogue()
    answer = api.query(
        """mutation {
          ok: createPoem(data: {title: "kept", price: 1, anthologyId: 1}) { id }
          bad: createPoem(data: {title: "lost", price: 1, anthologyId: 999}) { id }
        }"""
    )
    assert answer["data"]["ok"]["id"] > 0
    assert answer["data"]["bad"] is None
    error = answer["errors"][0]
    assert error["path"] == ["bad"]
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["status"] == 409
    titles = api.query('{ poems(search: "kept") { totalCount } }')
    assert titles["data"]["poems"]["totalCount"] == 1


def test_permissions_are_the_resources(catalogue: Any, models: Any) -> None:
    def staff_only(request: Any, action: str, row: Any) -> bool:
        return request.headers.get("x-staff") == "yes"

    class Scoped(Resource):
        model = models.Poem
        permissions = {"delete": staff_only, "create": staff_only}  # noqa: RUF012

        async def get_query(self, request: Any, session: Any, statement: Any) -> Any:
            return statement.where(models.Poem.price < 10)

    api = catalogue(resource=Scoped())
    answer = api.query("mutation { deletePoem(id: 1) }")
    assert answer["errors"][0]["extensions"] == {"code": "FORBIDDEN", "status": 403}
    assert "not allowed to delete Poem rows" in answer["errors"][0]["message"]
    answer = api.query("mutation { deletePoem(id: 1) }", headers={"x-staff": "yes"})
    assert answer["data"]["deletePoem"] == 1
    # rows outside get_query do not exist, here as over REST
    assert api.query("{ poems { totalCount } }")["data"]["poems"]["totalCount"] == 9
    assert api.query("{ poem(id: 20) { id } }")["data"]["poem"] is None
    answer = api.query("mutation { updatePoem(id: 20, data: {price: 1}) { id } }")
    assert answer["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_read_only_actions(catalogue: Any, models: Any) -> None:
    api = catalogue(resource=models.poems_resource(actions=["list", "retrieve"]))
    sdl = api.gql.sdl()
    assert "createAnthology" in sdl and "createPoem" not in sdl and "deletePoem" not in sdl


CLOSED: list[str] = []


async def who(x_user: Annotated[str | None, Header()] = None) -> AsyncIterator[str | None]:
    try:
        yield x_user
    finally:
        CLOSED.append(x_user or "")


async def staff(user: Annotated[str | None, Depends(who)]) -> None:
    if user is None:
        raise HTTPError(401, "log in first")
    if user != "ann":
        raise HTTPError(403, "staff only")


def test_depends_guards_run_as_the_rest_routes_run_them(catalogue: Any, models: Any) -> None:
    CLOSED.clear()
    resource = models.poems_resource(permissions={"delete": Depends(staff)})
    api = catalogue(resource=resource)
    answer = api.query("mutation { deletePoem(id: 1) }")
    assert answer["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "status": 401}
    answer = api.query("mutation { deletePoem(id: 1) }", headers={"x-user": "bob"})
    assert answer["errors"][0]["message"] == "staff only"
    answer = api.query("mutation { deletePoem(id: 1) }", headers={"x-user": "ann"})
    assert answer == {"data": {"deletePoem": 1}}
    assert CLOSED == ["", "bob", "ann"]  # the yield dependency was closed each time
    assert api.query("{ poem(id: 2) { id } }")["data"]["poem"] == {"id": 2}  # reads unguarded
