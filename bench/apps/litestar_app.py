"""Litestar with msgspec Structs for the body: its native, idiomatic (and fastest) validator.

Parameters use the explicit markers (``FromPath``, ``FromQuery``, ``JSONBody``) that Litestar 2.x
recommends over the deprecated inferred style.

Its defaults stay on (OpenAPI schema routes included). POST answers 200, like every other app,
instead of Litestar's default 201.

The ``/db`` endpoints use Litestar's SQLAlchemy plugin (advanced-alchemy): ``GET /db/{id}`` runs
the shared core statement on a connection of the injected ``db_engine``; ``/db/orm/{id}`` and
``/db/list`` take the request's ``db_session``, and the plugin serializes the returned ORM
objects (and ``OffsetPagination``) itself.

TechEmpower's test types use the same plugin's ``db_session`` with the ORM classes of
``bench/apps/_te.py`` (``session.get``; the updates committed by the handler, since the plugin's
default handler does not commit) and Litestar's Jinja template engine (``Template``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, MediaType, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.pagination import OffsetPagination
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench._db import async_url
from bench.apps import _te as te
from bench.apps._rows import ONE_ROW, PAGE, Row
from bench.apps._te import Fortune, World


class Dimensions(msgspec.Struct):
    width: float
    height: float
    depth: float


class Variant(msgspec.Struct):
    sku: Annotated[str, msgspec.Meta(min_length=1)]
    price: Annotated[float, msgspec.Meta(gt=0)]
    stock: Annotated[int, msgspec.Meta(ge=0)]


class Item(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    price: Annotated[float, msgspec.Meta(gt=0)]
    quantity: Annotated[int, msgspec.Meta(ge=0)]
    available: bool
    tags: list[str]
    dimensions: Dimensions
    variants: list[Variant]
    description: str | None = None


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return "Hello, World!"


@get("/json")
async def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@get("/users/{user_id:int}")
async def user(user_id: FromPath[int], q: FromQuery[str | None] = None) -> dict[str, Any]:
    return {"user_id": user_id, "q": q}


@post("/items", status_code=200)
async def items(data: JSONBody[Item]) -> Item:
    return data


@get("/db/{row_id:int}")
async def row(row_id: FromPath[int], db_engine: NamedDependency[AsyncEngine]) -> dict[str, Any]:
    async with db_engine.connect() as connection:
        found = (await connection.execute(ONE_ROW, {"id": row_id})).mappings().first()
    if found is None:
        raise NotFoundException("Row not found")
    return dict(found)


@get("/db/orm/{row_id:int}")
async def orm_row(row_id: FromPath[int], db_session: NamedDependency[AsyncSession]) -> Row:
    found = await db_session.get(Row, row_id)
    if found is None:
        raise NotFoundException("Row not found")
    return found


@get("/db/list")
async def rows(
    db_session: NamedDependency[AsyncSession],
    limit: Annotated[int, Parameter(ge=1, le=100)] = PAGE,
    offset: Annotated[int, Parameter(ge=0)] = 0,
) -> OffsetPagination[Row]:
    page = await db_session.scalars(select(Row).order_by(Row.id).limit(limit).offset(offset))
    total = await db_session.scalar(select(func.count()).select_from(Row))
    return OffsetPagination(items=list(page), limit=limit, offset=offset, total=total or 0)


# -- TechEmpower's test types (bench/apps/_te.py) ----------------------------------------------

_cache: dict[int, dict[str, int]] = {}


@get("/queries")
async def queries(
    db_session: NamedDependency[AsyncSession], n: FromQuery[str | None] = None
) -> list[dict[str, int]]:
    worlds = []
    for world_id in te.ids(te.count(n)):
        world = await db_session.get(World, world_id)
        assert world is not None
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return worlds


@get("/updates")
async def updates(
    db_session: NamedDependency[AsyncSession], n: FromQuery[str | None] = None
) -> list[dict[str, int]]:
    worlds = []
    for world_id in sorted(te.ids(te.count(n))):
        world = await db_session.get(World, world_id)
        assert world is not None
        world.randomnumber = te.new_number()
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    await db_session.commit()
    return worlds


@get("/fortunes", media_type=MediaType.HTML)
async def fortunes(db_session: NamedDependency[AsyncSession]) -> Template:
    rows = list(await db_session.scalars(select(Fortune)))
    rows.append(Fortune(id=0, message=te.ADDED))
    rows.sort(key=lambda fortune: fortune.message)
    return Template("fortunes.html", context={"fortunes": rows})


@get("/cached-queries")
async def cached_queries(n: FromQuery[str | None] = None) -> list[dict[str, int]]:
    if not _cache:  # the first request fills the cache with every world
        async with database.get_session() as session:
            for world in await session.scalars(select(World)):
                _cache[world.id] = {"id": world.id, "randomNumber": world.randomnumber}
    return [_cache[world_id] for world_id in te.ids(te.count(n))]


database = SQLAlchemyAsyncConfig(connection_string=async_url().render_as_string(False))

app = Litestar(
    route_handlers=[
        *(plaintext, json_, user, items, row, orm_row, rows),
        *(queries, updates, fortunes, cached_queries),
    ],
    plugins=[SQLAlchemyPlugin(config=database)],
    template_config=TemplateConfig(directory=te.TEMPLATES, engine=JinjaTemplateEngine),
)
