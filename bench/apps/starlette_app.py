"""Starlette: routes with the ``int`` convertor; pydantic for the body since it has no validator.

``GET /db/{id}`` runs the shared core statement on a connection from the engine; ``/db/orm/{id}``
and ``/db/list`` open an SQLAlchemy ``AsyncSession`` per request; all answer ``JSONResponse`` with
the row's columns. The engine is closed by the lifespan.

TechEmpower's test types run the shared core statements (``bench/apps/_te.py``) on
``engine.connect()`` (``engine.begin()`` for the updates) and render the fortunes with Starlette's
``Jinja2Templates``.
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
from starlette.templating import Jinja2Templates

from bench._db import async_url
from bench.apps import _te as te
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


# -- TechEmpower's test types (bench/apps/_te.py) ----------------------------------------------

templates = Jinja2Templates(directory=te.TEMPLATES)
_cache: dict[int, dict[str, int]] = {}


async def _worlds(connection: Any, ids: list[int]) -> list[dict[str, int]]:
    worlds = []
    for world_id in ids:
        found = (await connection.execute(te.ONE_WORLD, {"id": world_id})).one()
        worlds.append({"id": found.id, "randomNumber": found.randomnumber})
    return worlds


async def queries(request: Request) -> Response:
    async with engine.connect() as connection:
        worlds = await _worlds(connection, te.ids(te.count(request.query_params.get("n"))))
    return JSONResponse(worlds)


async def updates(request: Request) -> Response:
    async with engine.begin() as connection:
        worlds = await _worlds(connection, te.ids(te.count(request.query_params.get("n"))))
        for world in worlds:
            world["randomNumber"] = te.new_number()
        changes = [{"b_id": w["id"], "b_number": w["randomNumber"]} for w in worlds]
        await connection.execute(te.SET_WORLD, sorted(changes, key=lambda c: c["b_id"]))
    return JSONResponse(worlds)


async def fortunes(request: Request) -> Response:
    async with engine.connect() as connection:
        rows = [(found.id, found.message) for found in await connection.execute(te.ALL_FORTUNES)]
    rows.append((0, te.ADDED))
    rows.sort(key=lambda found: found[1])
    listed = [{"id": fortune_id, "message": message} for fortune_id, message in rows]
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": listed})


async def cached_queries(request: Request) -> Response:
    if not _cache:  # the first request fills the cache with every world
        async with engine.connect() as connection:
            for found in await connection.execute(te.ALL_WORLDS):
                _cache[found.id] = {"id": found.id, "randomNumber": found.randomnumber}
    ids = te.ids(te.count(request.query_params.get("n")))
    return JSONResponse([_cache[world_id] for world_id in ids])


app = Starlette(
    routes=[
        Route("/queries", queries),
        Route("/updates", updates),
        Route("/fortunes", fortunes),
        Route("/cached-queries", cached_queries),
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
