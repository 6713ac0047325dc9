"""FastAPI with its defaults (OpenAPI and docs routes on).

``GET /db/{id}`` runs the shared core statement on a connection dependency; ``/db/orm/{id}``
and ``/db/list`` follow FastAPI's SQL tutorial with SQLAlchemy's async session: a session
dependency, pydantic response models read from the ORM objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bench._db import async_url
from bench.apps import _te as te
from bench.apps._models import Item
from bench.apps._rows import ONE_ROW, PAGE, Row, RowOut, RowPage
from bench.apps._te import Fortune, World

engine = create_async_engine(async_url())
new_session = async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


async def get_session() -> AsyncIterator[AsyncSession]:
    async with new_session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_connection() -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        yield connection


ConnectionDep = Annotated[AsyncConnection, Depends(get_connection)]

app = FastAPI(lifespan=lifespan)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json")
async def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/{user_id}")
async def user(user_id: int, q: str | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "q": q}


@app.post("/items")
async def items(item: Item) -> Item:
    return item


@app.get("/db/list", response_model=RowPage)
async def rows(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = PAGE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    page = await session.scalars(select(Row).order_by(Row.id).limit(limit).offset(offset))
    total = await session.scalar(select(func.count()).select_from(Row))
    return {"items": page.all(), "total": total, "limit": limit, "offset": offset}


@app.get("/db/{row_id}", response_model=RowOut)
async def row(row_id: int, connection: ConnectionDep) -> Any:
    found = (await connection.execute(ONE_ROW, {"id": row_id})).mappings().first()
    if found is None:
        raise HTTPException(status_code=404, detail="Row not found")
    return found


@app.get("/db/orm/{row_id}", response_model=RowOut)
async def orm_row(row_id: int, session: SessionDep) -> Any:
    found = await session.get(Row, row_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Row not found")
    return found


# -- TechEmpower's test types (bench/apps/_te.py), as FastAPI's SQL tutorial does it: ORM models,
# the session dependency, Jinja2Templates -------------------------------------------------------

templates = Jinja2Templates(directory=te.TEMPLATES)
_cache: dict[int, dict[str, int]] = {}


@app.get("/queries")
async def queries(session: SessionDep, n: str | None = None) -> list[dict[str, int]]:
    worlds = []
    for world_id in te.ids(te.count(n)):
        world = await session.get(World, world_id)
        assert world is not None
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return worlds


@app.get("/updates")
async def updates(session: SessionDep, n: str | None = None) -> list[dict[str, int]]:
    worlds = []
    for world_id in sorted(te.ids(te.count(n))):
        world = await session.get(World, world_id)
        assert world is not None
        world.randomnumber = te.new_number()
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    await session.commit()
    return worlds


@app.get("/fortunes", response_class=HTMLResponse)
async def fortunes(request: Request, session: SessionDep) -> Any:
    rows = list((await session.scalars(select(Fortune))).all())
    rows.append(Fortune(id=0, message=te.ADDED))
    rows.sort(key=lambda fortune: fortune.message)
    return templates.TemplateResponse(request, "fortunes.html", {"fortunes": rows})


@app.get("/cached-queries")
async def cached_queries(n: str | None = None) -> list[dict[str, int]]:
    if not _cache:  # the first request fills the cache with every world
        async with new_session() as session:
            for world in await session.scalars(select(World)):
                _cache[world.id] = {"id": world.id, "randomNumber": world.randomnumber}
    return [_cache[world_id] for world_id in te.ids(te.count(n))]
