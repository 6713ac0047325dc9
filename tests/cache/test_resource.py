"""A cached ``Resource``: lists and rows are kept, and every write through it drops them."""

from __future__ import annotations

import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from prow import App
from prow.cache import Cache
from prow.db import Database, Resource
from prow.testing import TestClient


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Note(Base):
    __tablename__ = f"cache_note_{uuid.uuid4().hex[:8]}"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(sa.String(100))


def test_writes_invalidate_cached_lists_and_rows(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'notes.sqlite3'}")
    app = App(extensions=[database, Cache(namespace=uuid.uuid4().hex)])
    app.include(Resource(Note, cache=60))

    @app.on_startup
    async def create() -> None:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    prefix = "/" + Note.__tablename__
    with TestClient(app) as client:
        assert client.get(prefix + "/").json()["items"] == []
        assert client.get(prefix + "/").headers["x-cache"] == "HIT"
        created = client.post(prefix + "/", json={"text": "one"})
        assert created.status_code == 201
        listed = client.get(prefix + "/")
        assert listed.headers["x-cache"] == "MISS"
        assert [n["text"] for n in listed.json()["items"]] == ["one"]
        pk = created.json()["id"]
        assert client.get(f"{prefix}/{pk}").json()["text"] == "one"
        assert client.get(f"{prefix}/{pk}").headers["x-cache"] == "HIT"
        client.patch(f"{prefix}/{pk}", json={"text": "two"})
        assert client.get(f"{prefix}/{pk}").json()["text"] == "two"
        assert client.get(prefix + "/").json()["items"][0]["text"] == "two"
        client.delete(f"{prefix}/{pk}")
        assert client.get(f"{prefix}/{pk}").status_code == 404
        assert client.get(prefix + "/").json()["items"] == []
