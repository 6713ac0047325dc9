"""FastAPI with its defaults (OpenAPI and docs routes on).

The ``/db`` endpoints follow FastAPI's SQL tutorial with SQLAlchemy's async session: a session
dependency, pydantic response models read from the ORM objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from bench._db import async_url
from bench.apps._models import Item
from bench.apps._rows import PAGE, Row, RowOut, RowPage

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
async def row(row_id: int, session: SessionDep) -> Any:
    found = await session.get(Row, row_id)
    if found is None:
        raise HTTPException(status_code=404, detail="Row not found")
    return found
