"""Foreign keys in forms: a select of the related rows, a searchable input for big tables."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, HTMLResponse, Request
from prow.db import Database, DBSession, Model, schema_for
from prow.forms import Widget, bind_form, blank_form, related_fields
from prow.testing import TestClient

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"


class Shelf(Model):
    __tablename__ = "forms_related_shelf"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Maker(Model):
    __tablename__ = "forms_related_maker"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20))

    def __str__(self) -> str:
        return f"Maker <{self.code}>"


class Book(Model):
    __tablename__ = "forms_related_book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    shelf_id: Mapped[int] = mapped_column(ForeignKey("forms_related_shelf.id"))
    maker_id: Mapped[int | None] = mapped_column(ForeignKey("forms_related_maker.id"))


BookIn = schema_for(Book, mode="create")


def make_app(tmp_path: Path, makers: int) -> App:
    app = App(secret_key=SECRET, extensions=[Database(f"sqlite:///{tmp_path}/f.sqlite3")])

    @app.on_startup
    async def rows() -> None:
        database = app.extension(Database)
        await database.create_all(Shelf, Maker, Book)
        async with database.session() as session:
            session.add_all([Shelf(id=2, name="Poetry"), Shelf(id=1, name="Fiction")])
            session.add_all([Maker(id=i, code=f"m{i:03}") for i in range(1, makers + 1)])
            await session.commit()

    @app.get("/books/new")
    async def new(request: Request, db: DBSession) -> HTMLResponse:
        form = blank_form(BookIn, request, **await related_fields(db, Book, limit=5))
        return HTMLResponse(form.render())

    @app.post("/books", csrf=False)
    async def create(request: Request, db: DBSession) -> dict[str, object]:
        form = await bind_form(BookIn, request, **await related_fields(db, Book, limit=5))
        return {"valid": form.is_valid, "shelf": form.data.shelf_id if form.is_valid else None}

    return app


def test_a_foreign_key_is_a_select_of_the_related_rows(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, makers=3)) as client:
        page = client.get("/books/new").text
        shelf = re.search(r'<select[^>]*name="shelf_id"[^>]*>(.*?)</select>', page)
        assert shelf is not None, page
        assert re.findall(r'<option value="(\d*)"[^>]*>([^<]*)<', shelf.group(1)) == [
            ("", "—"),
            ("1", "Fiction"),
            ("2", "Poetry"),  # by label
        ]
        maker = re.search(r'<select[^>]*name="maker_id"[^>]*>(.*?)</select>', page)
        assert maker is not None and "Maker &lt;m001&gt;" in maker.group(1)  # __str__, escaped
        answer = client.post("/books", data={"title": "Odes", "shelf_id": "2"}).json()
        assert answer == {"valid": True, "shelf": 2}


def test_a_large_related_table_is_a_searchable_input(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, makers=12)) as client:
        page = client.get("/books/new").text
    field = re.search(r'<input type="text"[^>]*name="maker_id"[^>]*list="([^"]+)"[^>]*>', page)
    assert field is not None, page
    listed = re.search(rf'<datalist id="{field.group(1)}">(.*?)</datalist>', page)
    assert listed is not None
    assert listed.group(1).count("<option") == 5  # the first `limit` rows; any id may be typed
    assert "<select" in page  # the small table stays a select


def test_the_datalist_widget_by_name() -> None:
    assert Widget("datalist").name == "datalist"
