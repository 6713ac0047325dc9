"""The table of the ``/db`` endpoints, its core statement, and its ORM class for SQLAlchemy apps.

prow declares the same table with ``prow.db.Model``, Flask with Flask-SQLAlchemy's ``db.Model``,
Django with its ORM (``db_table``); they all read the rows ``bench/_db.py`` stores.
"""

from __future__ import annotations

from typing import cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, Table, bindparam, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TABLE = "bench_row"
PAGE = 20  # rows in a page of GET /db/list


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = TABLE

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    price: Mapped[float]
    stock: Mapped[int]
    active: Mapped[bool]


ROW_TABLE = cast(Table, Row.__table__)

#: ``GET /db/{id}``: the one statement every SQLAlchemy app runs on a connection (core, no ORM);
#: built once, so SQLAlchemy compiles it once.
ONE_ROW = select(ROW_TABLE).where(ROW_TABLE.c.id == bindparam("id"))

#: The same query for Django, which runs SQL on its own connection (``%s`` placeholders).
ONE_ROW_SQL = f"SELECT id, name, price, stock, active FROM {TABLE} WHERE id = %s"


class RowOut(BaseModel):
    """One row as JSON (read from the ORM object's attributes)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price: float
    stock: int
    active: bool


class RowPage(BaseModel):
    """A page of rows and the total count, the shape every app answers for ``GET /db/list``."""

    items: list[RowOut]
    total: int
    limit: int
    offset: int
