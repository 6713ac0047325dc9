"""The project's own fields: Strawberry's decorators and types, with prow's injections."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import strawberry

from prow import Request
from prow.db import DBSession
from prow.graphql import GraphQL


@strawberry.type
class Stats:
    poems: int
    cheapest: str


def test_custom_queries_and_mutations_get_the_request_and_its_session(
    catalogue: Any, models: Any
) -> None:
    def setup(app: Any, gql: GraphQL) -> None:
        @gql.query
        async def stats(db: DBSession, below: int = 100) -> Stats:
            count = await db.scalar(
                sa.select(sa.func.count()).select_from(models.Poem).where(models.Poem.price < below)
            )
            cheapest = await db.scalar(sa.select(models.Poem.title).order_by(models.Poem.price))
            return Stats(poems=count or 0, cheapest=cheapest or "")

        @gql.query(name="whoami")
        def who(request: Request, info: strawberry.Info) -> str:
            return request.headers.get("x-user", "anonymous") + f" ({info.field_name})"

        @gql.mutation
        async def rename_anthology(db: DBSession, old: str, new: str) -> bool:
            result = await db.execute(
                sa.update(models.Anthology).where(models.Anthology.name == old).values(name=new)
            )
            return bool(result.rowcount)

    api = catalogue(setup=setup)
    sdl = api.gql.sdl()
    assert "stats(below: Int! = 100): Stats!" in sdl  # db is not an argument
    assert "whoami: String!" in sdl
    answer = api.query("{ stats(below: 10) { poems cheapest } whoami }", headers={"x-user": "ann"})
    assert answer == {
        "data": {"stats": {"poems": 10, "cheapest": "poem 00"}, "whoami": "ann (whoami)"}
    }
    answer = api.query('mutation { renameAnthology(old: "essay", new: "essays") }')
    assert answer == {"data": {"renameAnthology": True}}
    answer = api.query("{ poem(id: 3) { anthology { name } } }")  # committed with the request
    assert answer["data"]["poem"]["anthology"]["name"] == "essays"
