"""The async ORM's traps, caught at start-up or explained: what a Django user has never met."""

import logging
from typing import Annotated

import pytest
from pydantic import BaseModel
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from prow import App, ConfigurationError, Depends
from prow.db import Connection, Database, DBSession, Model
from prow.testing import TestClient


class MiShelf(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20))


class MiBook(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    secret_note: Mapped[str] = mapped_column(String(20), info={"sensitive": True})
    shelf_id: Mapped[int] = mapped_column(ForeignKey("mi_shelf.id"))
    shelf: Mapped[MiShelf] = relationship()


class ShelfOut(BaseModel):
    name: str


class BookOut(BaseModel):
    model_config = {"from_attributes": True}
    title: str
    shelf: ShelfOut


def library() -> App:
    app = App(extensions=[Database("sqlite:///:memory:")])

    @app.on_startup
    async def fill() -> None:
        database = app.extension(Database)
        await database.create_all(MiShelf.__table__, MiBook.__table__)
        async with database.session() as session:
            session.add(MiShelf(id=1, name="poetry"))
            session.add(MiBook(id=1, title="Odes", secret_note="x", shelf_id=1))
            await session.commit()

    return app


def test_a_model_returned_is_sent_as_its_read_schema() -> None:
    app = library()

    @app.get("/books/{book_id}")
    async def book(book_id: int, db: DBSession) -> MiBook:
        return await db.get_one(MiBook, book_id)

    @app.get("/books")
    async def books(db: DBSession) -> list[MiBook]:
        return list((await db.scalars(select(MiBook))).all())

    with TestClient(app) as client:
        assert client.get("/books/1").json() == {"id": 1, "title": "Odes", "shelf_id": 1}
        assert client.get("/books").json() == [{"id": 1, "title": "Odes", "shelf_id": 1}]
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert "secret_note" not in str(schema)


def test_a_plain_def_handler_with_the_async_session_fails_at_start_up() -> None:
    app = library()

    @app.get("/books")
    def books(db: DBSession) -> list[str]:
        return [book.title for book in db.execute(select(MiBook))]  # type: ignore[attr-defined]

    with pytest.raises(ConfigurationError) as info, TestClient(app):
        pass
    assert info.value.code == "prow.E032"
    assert "'db'" in str(info.value) and "async def" in str(info.value)


def test_a_plain_def_dependency_with_the_connection_fails_at_start_up() -> None:
    app = library()

    def titles(conn: Connection) -> list[str]:
        return []

    @app.get("/titles")
    async def handler(found: Annotated[list[str], Depends(titles)]) -> list[str]:
        return found

    with pytest.raises(ConfigurationError) as info, TestClient(app):
        pass
    assert info.value.code == "prow.E032" and "titles" in str(info.value)


@pytest.mark.filterwarnings("ignore:coroutine 'Connection.cursor' was never awaited")
@pytest.mark.parametrize("where", ["handler", "response"])
def test_an_unloaded_relationship_names_itself_and_the_fix(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = library()

    @app.get("/handler")
    async def in_handler(db: DBSession) -> str:
        book = (await db.scalars(select(MiBook))).one()
        return book.shelf.name

    @app.get("/response")
    async def in_response(db: DBSession) -> BookOut:
        return (await db.scalars(select(MiBook))).one()  # type: ignore[return-value]

    @app.get("/loaded")
    async def loaded(db: DBSession) -> BookOut:
        query = select(MiBook).options(selectinload(MiBook.shelf))
        return (await db.scalars(query)).one()  # type: ignore[return-value]

    fix = "selectinload(MiBook.shelf)"
    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.ERROR):
        response = client.get(f"/{where}")
        assert response.status_code == 500
        assert "MiBook" not in response.text  # nothing about the code reaches the client
        assert fix in caplog.text and "MiBook.shelf was read but not loaded" in caplog.text
        assert client.get("/loaded").json() == {"title": "Odes", "shelf": {"name": "poetry"}}
    with TestClient(app) as client, pytest.raises(Exception) as info:
        client.get(f"/{where}")
    assert any(fix in note for note in info.value.__notes__)
