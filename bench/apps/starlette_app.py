"""Starlette: routes with the ``int`` convertor; pydantic for the body since it has no validator.

``GET /db/{id}`` runs the shared core statement on a connection from the engine; ``/db/orm/{id}``
and ``/db/list`` open an SQLAlchemy ``AsyncSession`` per request; all answer ``JSONResponse`` with
the row's columns. The engine is closed by the lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bench._db import async_url
from bench.apps._models import Item
from bench.apps._rows import ONE_ROW, PAGE, Row

engine = create_async_engine(async_url())
new_session = async_sessionmaker(engine, expire_on_commit=False)
_COLUMNS = ("id", "name", "price", "stock", "active")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await engine.dispose()


def _as_dict(row: Row) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _COLUMNS}


async def plaintext(request: Request) -> Response:
    return PlainTextResponse("Hello, World!")


async def json_(request: Request) -> Response:
    return JSONResponse({"message": "Hello, World!"})


async def user(request: Request) -> Response:
    return JSONResponse(
        {"user_id": request.path_params["user_id"], "q": request.query_params.get("q")}
    )


async def items(request: Request) -> Response:
    try:
        item = Item.model_validate_json(await request.body())
    except ValidationError as exc:
        return Response(exc.json(), status_code=422, media_type="application/json")
    return Response(item.model_dump_json(), media_type="application/json")


async def row(request: Request) -> Response:
    async with engine.connect() as connection:
        params = {"id": request.path_params["row_id"]}
        found = (await connection.execute(ONE_ROW, params)).mappings().first()
    if found is None:
        return JSONResponse({"detail": "Row not found"}, status_code=404)
    return JSONResponse(dict(found))


async def orm_row(request: Request) -> Response:
    async with new_session() as session:
        found = await session.get(Row, request.path_params["row_id"])
    if found is None:
        return JSONResponse({"detail": "Row not found"}, status_code=404)
    return JSONResponse(_as_dict(found))


async def rows(request: Request) -> Response:
    try:
        limit = int(request.query_params.get("limit", PAGE))
        offset = int(request.query_params.get("offset", 0))
    except ValueError:
        limit = offset = -1
    if not (1 <= limit <= 100 and offset >= 0):
        return JSONResponse({"detail": "limit must be 1-100, offset >= 0"}, status_code=422)
    async with new_session() as session:
        page = await session.scalars(select(Row).order_by(Row.id).limit(limit).offset(offset))
        items = [_as_dict(found) for found in page]
        total = await session.scalar(select(func.count()).select_from(Row))
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


app = Starlette(
    routes=[
        Route("/plaintext", plaintext),
        Route("/json", json_),
        Route("/users/{user_id:int}", user),
        Route("/items", items, methods=["POST"]),
        Route("/db/list", rows),
        Route("/db/{row_id:int}", row),
        Route("/db/orm/{row_id:int}", orm_row),
    ],
    lifespan=lifespan,
)
