"""prow with its defaults (OpenAPI and docs routes on, as a user gets them).

``GET /db/{row_id}`` runs the shared core statement on the ``Connection`` dependency;
``GET /db/orm/{row_id}`` is a handler with the ``DBSession`` dependency and ``get_or_404``;
``GET /db/list`` is the list action of a ``Resource`` (filters, ordering and pagination as a user
gets them).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bench._db import async_url
from bench.apps import _te as te
from bench.apps._models import Item
from bench.apps._rows import ONE_ROW, PAGE, TABLE
from prow import App, HTTPError, PlainTextResponse, Request
from prow.cache import Cache
from prow.db import Connection, Database, DBSession, Model, Resource, get_or_404, schema_for
from prow.responses import HTMLResponse
from prow.templating import Templates


class BenchRow(Model):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    price: Mapped[float]
    stock: Mapped[int]
    active: Mapped[bool]


BenchRowRead = schema_for(BenchRow)

app = App()
db = app.install(Database(async_url()))


@app.get("/plaintext")
async def plaintext() -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


@app.get("/json")
async def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/{user_id}")
async def user(user_id: int, q: str | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "q": q}


@app.post("/items", status_code=200)
async def items(item: Item) -> Item:
    return item


@app.get("/db/{row_id}")
async def row(row_id: int, connection: Connection) -> dict[str, Any]:
    found = (await connection.execute(ONE_ROW, {"id": row_id})).mappings().first()
    if found is None:
        raise HTTPError(404, f"Row {row_id} does not exist.")
    return dict(found)


@app.get("/db/orm/{row_id}")
async def orm_row(row_id: int, session: DBSession) -> BenchRowRead:  # type: ignore[valid-type]
    return BenchRowRead.model_validate(await get_or_404(session, BenchRow, row_id))


app.include(Resource(BenchRow, prefix="/db/list", actions=["list"], default_limit=PAGE))

# -- TechEmpower's test types (bench/apps/_te.py): the Connection (core) and prow's Templates --

templates = Templates(directory=te.TEMPLATES)
# The in-process backend (the default without PROW_CACHE_URL), entries kept until evicted: its
# default 10,000 entries hold every world.
worlds = app.install(Cache("memory://", default_ttl=None)).namespace("world")


async def _world(connection: Any, world_id: int) -> dict[str, int]:
    row = (await connection.execute(te.ONE_WORLD, {"id": world_id})).one()
    return {"id": row.id, "randomNumber": row.randomnumber}


@app.get("/queries")
async def queries(connection: Connection, n: str | None = None) -> list[dict[str, int]]:
    return [await _world(connection, world_id) for world_id in te.ids(te.count(n))]


@app.get("/updates")
async def updates(connection: Connection, n: str | None = None) -> list[dict[str, int]]:
    worlds = [await _world(connection, world_id) for world_id in te.ids(te.count(n))]
    for world in worlds:
        world["randomNumber"] = te.new_number()
    changes = [{"b_id": w["id"], "b_number": w["randomNumber"]} for w in worlds]
    await connection.execute(te.SET_WORLD, sorted(changes, key=lambda c: c["b_id"]))
    return worlds  # committed by Connection before the answer leaves


@app.get("/fortunes")
async def fortunes(request: Request, connection: Connection) -> HTMLResponse:
    rows = [(row.id, row.message) for row in await connection.execute(te.ALL_FORTUNES)]
    rows.append((0, te.ADDED))
    rows.sort(key=lambda row: row[1])
    listed = [{"id": fortune_id, "message": message} for fortune_id, message in rows]
    return templates.render(request, "fortunes.html", {"fortunes": listed})


async def _every_world(world_id: int) -> dict[str, int]:
    """A miss loads every world in one query and stores each (the first request does it)."""
    async with db.connect() as connection:
        everything = {
            row.id: {"id": row.id, "randomNumber": row.randomnumber}
            for row in await connection.execute(te.ALL_WORLDS)
        }
    for key, world in everything.items():
        await worlds.set(str(key), world)
    return everything[world_id]


@app.get("/cached-queries")
async def cached_queries(n: str | None = None) -> list[dict[str, int]]:
    return [
        await worlds.get_or_set(str(world_id), partial(_every_world, world_id))
        for world_id in te.ids(te.count(n))
    ]
