"""Litestar with msgspec Structs for the body: its native, idiomatic (and fastest) validator.

Parameters use the explicit markers (``FromPath``, ``FromQuery``, ``JSONBody``) that Litestar 2.x
recommends over the deprecated inferred style.

Its defaults stay on (OpenAPI schema routes included). POST answers 200, like every other app,
instead of Litestar's default 201.

The ``/db`` endpoints use Litestar's SQLAlchemy plugin (advanced-alchemy): ``GET /db/{id}`` runs
the shared core statement on a connection of the injected ``db_engine``; ``/db/orm/{id}`` and
``/db/list`` take the request's ``db_session``, and the plugin serializes the returned ORM
objects (and ``OffsetPagination``) itself.
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
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench._db import async_url
from bench.apps._rows import ONE_ROW, PAGE, Row


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


database = SQLAlchemyAsyncConfig(connection_string=async_url().render_as_string(False))

app = Litestar(
    route_handlers=[plaintext, json_, user, items, row, orm_row, rows],
    plugins=[SQLAlchemyPlugin(config=database)],
)
