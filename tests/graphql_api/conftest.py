"""prow.graphql tests: a small catalogue (anthologies, poems, motifs) on SQLite and PostgreSQL.

``catalogue(url, ...)`` builds an app exposing the catalogue, fills it with 60 poems in 3
anthologies with 2 motifs each, and counts the SQL statements each request runs (``counter``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import CheckConstraint, Column, ForeignKey, String, Table
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prow import App
from prow.db import Database, Model, Resource
from prow.graphql import GraphQL
from prow.testing import TestClient

POSTGRES_URL = os.environ.get(
    "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

poem_motif = Table(
    "gql_poem_motif",
    Model.metadata,
    Column("poem_id", ForeignKey("gql_poem.id", ondelete="CASCADE"), primary_key=True),
    Column("motif_id", ForeignKey("gql_motif.id", ondelete="CASCADE"), primary_key=True),
)


class Anthology(Model):
    """A collection of poems."""

    __tablename__ = "gql_anthology"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    poems: Mapped[list[Poem]] = relationship(back_populates="anthology")


class Motif(Model):
    __tablename__ = "gql_motif"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(30))


class Poem(Model):
    __tablename__ = "gql_poem"
    __table_args__ = (CheckConstraint("price >= 0", name="price_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80))
    price: Mapped[int]
    secret_note: Mapped[str] = mapped_column(String(50), default="", info={"sensitive": True})
    anthology_id: Mapped[int] = mapped_column(ForeignKey("gql_anthology.id"))
    anthology: Mapped[Anthology] = relationship(back_populates="poems")
    motifs: Mapped[list[Motif]] = relationship(secondary=poem_motif)


MODELS = (Anthology, Motif, Poem, poem_motif)


@cache
def _reachable(url: str) -> bool:
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 0), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new SQLite file, or the PostgreSQL test server (skipped when down, unless CI)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'graphql.sqlite3'}"
    if not _reachable(POSTGRES_URL):
        reason = f"PostgreSQL is not reachable at {make_url(POSTGRES_URL).render_as_string()}"
        if os.environ.get("PROW_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} and PROW_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    return POSTGRES_URL


def poems_resource(**options: Any) -> Resource:
    return Resource(
        Poem,
        filter_fields=["price", "title", "anthology_id"],
        order_fields=["price", "title"],
        search_fields=["title"],
        **options,
    )


class StatementCounter:
    """Counts the SQL statements the engine runs (``count`` since the last ``reset``)."""

    def __init__(self) -> None:
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, *args: Any) -> None:
        self.count += 1
        self.statements.append(str(args[2]))

    def reset(self) -> None:
        self.count = 0
        self.statements = []


async def _fill(app: App) -> None:
    db = app.extension(Database)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: Model.metadata.drop_all(sync, tables=_tables()))
        await connection.run_sync(lambda sync: Model.metadata.create_all(sync, tables=_tables()))
    async with db.session() as session:
        anthologies = [Anthology(name=name) for name in ("poetry", "novel", "essay")]
        motifs = [Motif(text=f"motif{i}") for i in range(4)]
        session.add_all(anthologies + motifs)
        for i in range(60):
            poem = Poem(
                title=f"poem {i:02d}",
                price=i,
                anthology=anthologies[i % 3],
                motifs=[motifs[i % 4], motifs[(i + 1) % 4]],
            )
            session.add(poem)
        await session.commit()


def _tables() -> list[sa.Table]:
    return [Anthology.__table__, Motif.__table__, Poem.__table__, poem_motif]  # type: ignore[list-item]


async def _drop(app: App) -> None:
    db = app.extension(Database)
    async with db.engine.begin() as connection:
        await connection.run_sync(lambda sync: Model.metadata.drop_all(sync, tables=_tables()))


class Catalogue:
    """A started app serving the catalogue over GraphQL, and what tests look at."""

    def __init__(
        self, app: App, client: TestClient, gql: GraphQL, counter: StatementCounter
    ) -> None:
        self.app, self.client, self.gql, self.counter = app, client, gql, counter

    def query(self, text: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """POST ``text``; the JSON answer (status 200 asserted)."""
        response = self.client.post(
            self.gql.path, json={"query": text, "variables": variables}, **kw
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def catalogue(database_url: str) -> Iterator[Callable[..., Catalogue]]:
    """``catalogue(gql=None, resource=None, setup=None, **app_options)``: started."""
    stack: list[Any] = []

    def make(
        gql: GraphQL | None = None,
        resource: Resource | None = None,
        setup: Callable[[App, GraphQL], None] | None = None,
        **app_options: Any,
    ) -> Catalogue:
        gql = gql or GraphQL()
        gql.expose(resource or poems_resource(), Anthology, Motif)
        app = App(extensions=[Database(database_url), gql], **app_options)
        if setup is not None:
            setup(app, gql)
        counter = StatementCounter()

        @app.on_startup
        async def fill() -> None:
            await _fill(app)
            engine = app.extension(Database).engine.sync_engine
            sa.event.listen(engine, "before_cursor_execute", counter)

        @app.on_shutdown
        async def drop() -> None:
            engine = app.extension(Database).engine.sync_engine
            sa.event.remove(engine, "before_cursor_execute", counter)
            await _drop(app)

        client = TestClient(app)
        client.__enter__()
        stack.append(client)
        counter.reset()
        return Catalogue(app, client, gql, counter)

    yield make
    for client in reversed(stack):
        client.__exit__(None, None, None)


@pytest.fixture
def models() -> Any:
    """The catalogue's models and its poems ``Resource`` maker, for tests that build their own."""
    import types

    return types.SimpleNamespace(
        Poem=Poem, Anthology=Anthology, Motif=Motif, poems_resource=poems_resource
    )
