"""Flask (WSGI): the ``int`` converter for the path, pydantic for the body.

The ``/db`` endpoints use Flask-SQLAlchemy (blocking driver): ``GET /db/{id}`` runs the shared
core statement on a connection of ``db.engine``; ``/db/orm/{id}`` uses ``db.get_or_404`` and
``/db/list`` ``db.paginate``, its idiomatic pagination (``?page=``, ``?per_page=``).

TechEmpower's test types use Flask-SQLAlchemy's models and ``db.session`` (``get``, attribute
writes and ``commit`` for the updates) and Flask's ``render_template`` (Jinja2).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, render_template, request
from flask_sqlalchemy import SQLAlchemy
from pydantic import ValidationError
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench._db import sync_url
from bench.apps import _te as te
from bench.apps._models import Item
from bench.apps._rows import ONE_ROW, PAGE, TABLE


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BenchRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    price: Mapped[float]
    stock: Mapped[int]
    active: Mapped[bool]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "price": self.price,
            "stock": self.stock,
            "active": self.active,
        }


class World(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "world"

    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "fortune"

    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


app = Flask(__name__, template_folder=te.TEMPLATES)
app.config["SQLALCHEMY_DATABASE_URI"] = sync_url().render_as_string(hide_password=False)
db.init_app(app)


@app.errorhandler(ValidationError)
def invalid(exc: ValidationError) -> Response:
    return Response(exc.json(), status=422, mimetype="application/json")


@app.get("/plaintext")
def plaintext() -> Response:
    return Response("Hello, World!", mimetype="text/plain")


@app.get("/json")
def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/<int:user_id>")
def user(user_id: int) -> dict[str, Any]:
    return {"user_id": user_id, "q": request.args.get("q")}


@app.post("/items")
def items() -> Response:
    item = Item.model_validate_json(request.get_data())
    return Response(item.model_dump_json(), mimetype="application/json")


@app.get("/db/<int:row_id>")
def row(row_id: int) -> dict[str, Any]:
    with db.engine.connect() as connection:
        found = connection.execute(ONE_ROW, {"id": row_id}).mappings().first()
    if found is None:
        abort(404)
    return dict(found)


@app.get("/db/orm/<int:row_id>")
def orm_row(row_id: int) -> dict[str, Any]:
    found: BenchRow = db.get_or_404(BenchRow, row_id)
    return found.as_dict()


@app.get("/db/list")
def rows() -> dict[str, Any]:
    page = db.paginate(select(BenchRow).order_by(BenchRow.id), per_page=PAGE, max_per_page=100)
    items = [found.as_dict() for found in page.items]
    return {"items": items, "total": page.total, "limit": page.per_page, "offset": page.first - 1}


# -- TechEmpower's test types (bench/apps/_te.py) ----------------------------------------------

_cache: dict[int, dict[str, int]] = {}


@app.get("/queries")
def queries() -> list[dict[str, int]]:
    worlds = []
    for world_id in te.ids(te.count(request.args.get("n"))):
        world = db.session.get(World, world_id)
        assert world is not None
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return worlds


@app.get("/updates")
def updates() -> list[dict[str, int]]:
    worlds = []
    for world_id in sorted(te.ids(te.count(request.args.get("n")))):
        world = db.session.get(World, world_id)
        assert world is not None
        world.randomnumber = te.new_number()
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    db.session.commit()
    return worlds


@app.get("/fortunes")
def fortunes() -> str:
    rows = list(db.session.scalars(select(Fortune)))
    rows.append(Fortune(id=0, message=te.ADDED))
    rows.sort(key=lambda fortune: fortune.message)
    return render_template("fortunes.html", fortunes=rows)


@app.get("/cached-queries")
def cached_queries() -> list[dict[str, int]]:
    if not _cache:  # the first request fills the cache with every world
        for world in db.session.scalars(select(World)):
            _cache[world.id] = {"id": world.id, "randomNumber": world.randomnumber}
    return [_cache[world_id] for world_id in te.ids(te.count(request.args.get("n")))]
