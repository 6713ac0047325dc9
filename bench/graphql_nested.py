"""GraphQL, a nested list query: instructions per request, prow vs Strawberry on FastAPI.

Both apps answer the same query over the same SQLite rows (60 items in 5 categories, 2 tags
each)::

    { items: benchItems(first: 50) { pageInfo { hasNextPage endCursor }
                         edges { node { id name price category { name } tags { label } } } } }

prow's app is the models exposed (``gql.expose(BenchItem, BenchCategory, BenchTag)``). The
FastAPI app is what a FastAPI user writes with Strawberry's FastAPI integration: the Strawberry
types declared by hand, an ``AsyncSession`` per request from a dependency, and a DataLoader per
relation and request, so it runs the same three statements (the page, the categories, the
tags). Both execute with Strawberry; the difference is everything around it.

``python bench/graphql_nested.py [--n 200]`` counts instructions per request with callgrind, as
``bench/callgrind.py`` does: ``(I(2N) - I(N)) / N``. ``--drive APP N`` is what valgrind runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import ``bench`` from the repository root
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import sqlalchemy as sa
import strawberry
from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from prow.db import Model

__all__ = ["QUERY", "drive", "measure"]

DB_FILE = Path(__file__).resolve().parent / ".work" / "graphql.sqlite3"
QUERY = """{ items: benchItems(first: 50) { pageInfo { hasNextPage endCursor }
  edges { node { id name price category { name } tags { label } } } } }"""
APPS = ("prow", "fastapi")

item_tag = Table(
    "bench_gql_item_tag",
    Model.metadata,
    Column("item_id", ForeignKey("bench_gql_item.id"), primary_key=True),
    Column("tag_id", ForeignKey("bench_gql_tag.id"), primary_key=True),
)


class BenchCategory(Model):
    __tablename__ = "bench_gql_category"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class BenchTag(Model):
    __tablename__ = "bench_gql_tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(40))


class BenchItem(Model):
    __tablename__ = "bench_gql_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    price: Mapped[float]
    category_id: Mapped[int] = mapped_column(ForeignKey("bench_gql_category.id"))
    category: Mapped[BenchCategory] = relationship()
    tags: Mapped[list[BenchTag]] = relationship(secondary=item_tag)


def _tables() -> list[Any]:
    return [BenchCategory.__table__, BenchTag.__table__, BenchItem.__table__, item_tag]


def prepare() -> None:
    """Store the rows (once: a new file each time keeps both apps on the same data)."""
    DB_FILE.parent.mkdir(exist_ok=True)
    DB_FILE.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{DB_FILE}")
    Model.metadata.create_all(engine, tables=_tables())
    with engine.begin() as connection:
        connection.execute(
            sa.insert(BenchCategory), [{"id": i, "name": f"category {i}"} for i in range(1, 6)]
        )
        connection.execute(
            sa.insert(BenchTag), [{"id": i, "label": f"tag {i}"} for i in range(1, 11)]
        )
        connection.execute(
            sa.insert(BenchItem),
            [
                {"id": i, "name": f"item {i}", "price": i / 4, "category_id": i % 5 + 1}
                for i in range(1, 61)
            ],
        )
        connection.execute(
            sa.insert(item_tag),
            [
                {"item_id": i, "tag_id": t}
                for i in range(1, 61)
                for t in (i % 10 + 1, (i + 3) % 10 + 1)
            ],
        )
    engine.dispose()


def _url() -> str:
    return f"sqlite+aiosqlite:///{DB_FILE}"


# -- prow: the models exposed ---------------------------------------------------------------


def prow_app() -> Any:
    from prow import App
    from prow.db import Database
    from prow.graphql import GraphQL

    gql = GraphQL(path="/graphql", graphiql=False)
    gql.expose(BenchItem, BenchCategory, BenchTag)
    return App(extensions=[Database(_url()), gql])


# -- FastAPI + Strawberry: the types by hand ------------------------------------------------


@strawberry.type(name="Category")
class CategoryType:
    id: int
    name: str


@strawberry.type(name="Tag")
class TagType:
    id: int
    label: str


@strawberry.type(name="Item")
class ItemType:
    id: int
    name: str
    price: float
    category_id: strawberry.Private[int]

    @strawberry.field
    async def category(self, info: strawberry.Info) -> CategoryType | None:
        return await info.context.categories.load(self.category_id)

    @strawberry.field
    async def tags(self, info: strawberry.Info) -> list[TagType]:
        return await info.context.tags.load(self.id)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(name="ItemEdge")
class ItemEdge:
    cursor: str
    node: ItemType


@strawberry.type(name="ItemConnection")
class ItemConnection:
    edges: list[ItemEdge]
    page_info: PageInfo


class Context(BaseContext):
    def __init__(self, session: AsyncSession) -> None:
        super().__init__()
        self.session = session
        self.categories = DataLoader(load_fn=self.load_categories)
        self.tags = DataLoader(load_fn=self.load_tags)

    async def load_categories(self, keys: list[int]) -> list[CategoryType | None]:
        rows = await self.session.scalars(
            sa.select(BenchCategory).where(BenchCategory.id.in_(set(keys)))
        )
        found = {row.id: CategoryType(id=row.id, name=row.name) for row in rows}
        return [found.get(key) for key in keys]

    async def load_tags(self, keys: list[int]) -> list[list[TagType]]:
        statement = (
            sa.select(BenchTag, item_tag.c.item_id)
            .join(item_tag, item_tag.c.tag_id == BenchTag.id)
            .where(item_tag.c.item_id.in_(set(keys)))
            .order_by(BenchTag.id)
        )
        found: dict[int, list[TagType]] = defaultdict(list)
        for tag, item_id in (await self.session.execute(statement)).all():
            found[item_id].append(TagType(id=tag.id, label=tag.label))
        return [found.get(key, []) for key in keys]


@strawberry.type
class Query:
    @strawberry.field
    async def bench_items(
        self, info: strawberry.Info, first: int = 20, after: str | None = None
    ) -> ItemConnection:
        offset = int(after) + 1 if after else 0
        statement = sa.select(BenchItem).order_by(BenchItem.id).limit(first + 1).offset(offset)
        rows = (await info.context.session.scalars(statement)).all()
        edges = [
            ItemEdge(
                cursor=str(offset + index),
                node=ItemType(
                    id=row.id, name=row.name, price=row.price, category_id=row.category_id
                ),
            )
            for index, row in enumerate(rows[:first])
        ]
        end = edges[-1].cursor if edges else None
        return ItemConnection(
            edges=edges, page_info=PageInfo(has_next_page=len(rows) > first, end_cursor=end)
        )


def fastapi_app() -> Any:
    from fastapi import Depends, FastAPI
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from strawberry.fastapi import GraphQLRouter

    engine = create_async_engine(_url())
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def get_session() -> AsyncIterator[AsyncSession]:
        async with sessions() as session:
            yield session

    async def get_context(session: AsyncSession = Depends(get_session)) -> Context:  # noqa: B008
        return Context(session)

    schema = strawberry.Schema(query=Query)
    app = FastAPI()
    app.include_router(GraphQLRouter(schema, context_getter=get_context), prefix="/graphql")
    return app


# -- driving and counting -------------------------------------------------------------------


def _expected_edges(answer: dict[str, Any]) -> list[dict[str, Any]]:
    edges = answer["data"]["items"]["edges"]
    return [edge["node"] for edge in edges]


async def _serve(app: Any, n: int) -> dict[str, Any]:
    from bench._drive import _Exchange, _Lifespan

    body = json.dumps({"query": QUERY}).encode()
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"accept", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    lifespan = _Lifespan(app)
    await lifespan.start()
    exchange = _Exchange(body)
    for _ in range(n):
        exchange = _Exchange(body)
        await app(dict(scope), exchange.receive, exchange.send)
    await lifespan.stop()
    answer = exchange.answer()
    if answer.status != 200:
        raise RuntimeError(f"status {answer.status}: {answer.body!r}")
    return json.loads(answer.body)  # type: ignore[no-any-return]


def drive(name: str, n: int) -> dict[str, Any]:
    """Serve the query ``n`` times in process and return the last answer (checked)."""
    app = prow_app() if name == "prow" else fastapi_app()
    answer = asyncio.run(_serve(app, n))
    nodes = _expected_edges(answer)
    assert len(nodes) == 50, answer
    assert nodes[0] == {
        "id": 1,
        "name": "item 1",
        "price": 0.25,
        "category": {"name": "category 2"},
        "tags": [{"label": "tag 2"}, {"label": "tag 5"}],
    }, nodes[0]
    assert answer["data"]["items"]["pageInfo"]["hasNextPage"] is True
    return answer


_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def _count(name: str, n: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--drive",
        name,
        str(n),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(command, capture_output=True, text=True, cwd=root, env=env, check=False)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{name}: driver failed\n{done.stderr[-2000:]}")
    return int(found.group(1))


def measure(n: int) -> dict[str, int]:
    """Instructions per request of each app: ``(I(2N) - I(N)) / N``."""
    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed (apt-get install valgrind)")
    prepare()
    results = {}
    for name in APPS:
        results[name] = round((_count(name, 2 * n) - _count(name, n)) / n)
        print(f"  {name:8} {results[name]:>12,} instructions per request", flush=True)
    print(f"  prow / fastapi: {results['prow'] / results['fastapi']:.2f}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--drive", nargs=2, metavar=("APP", "N"))
    args = parser.parse_args()
    if args.drive:
        drive(args.drive[0], int(args.drive[1]))
        print("ok")
        return 0
    measure(args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
