"""TechEmpower's tables (``world``, ``fortune``), their rows, and what every app shares for them.

The test types follow TechEmpower's rules: ``/queries?n=20`` reads 20 random ``world`` rows, one
query each; ``/updates?n=20`` reads 20 and writes each back with a new random number;
``/fortunes`` reads every ``fortune``, adds one at request time, sorts them by message and renders
``bench/templates/fortunes.html`` with the framework's template engine (escaping on);
``/cached-queries?n=20`` answers 20 random rows from an in-process cache that the first request
fills with every world (one query).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ADDED",
    "FORTUNES",
    "FORTUNE_TABLE",
    "TEMPLATES",
    "WORLD_ROWS",
    "WORLD_TABLE",
    "Fortune",
    "World",
    "count",
    "ids",
    "world_rows",
]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
WORLD_ROWS = 10_000
metadata = MetaData()
WORLD_TABLE = Table(
    "world", metadata, Column("id", Integer, primary_key=True), Column("randomnumber", Integer)
)
FORTUNE_TABLE = Table(
    "fortune", metadata, Column("id", Integer, primary_key=True), Column("message", String(2048))
)
FORTUNES = [
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it to do.",
    "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. — Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    '<script>alert("This should not be displayed in a browser alert box.");</script>',
    "フレームワークのベンチマーク",
]
ADDED = "Additional fortune added at request time."


class _Base(DeclarativeBase):
    pass


class World(_Base):
    """The ORM class of ``world`` for the SQLAlchemy apps that use the ORM (FastAPI, Litestar)."""

    __tablename__ = "world"
    id: Mapped[int] = mapped_column(primary_key=True)
    randomnumber: Mapped[int]


class Fortune(_Base):
    __tablename__ = "fortune"
    id: Mapped[int] = mapped_column(primary_key=True)
    message: Mapped[str] = mapped_column(String(2048))


#: The core statements the SQLAlchemy apps that use core share (built once).
ONE_WORLD = select(WORLD_TABLE.c.id, WORLD_TABLE.c.randomnumber).where(
    WORLD_TABLE.c.id == bindparam("id")
)
SET_WORLD = (
    update(WORLD_TABLE)
    .where(WORLD_TABLE.c.id == bindparam("b_id"))
    .values(randomnumber=bindparam("b_number"))
)
ALL_WORLDS = select(WORLD_TABLE.c.id, WORLD_TABLE.c.randomnumber)
ALL_FORTUNES = select(FORTUNE_TABLE.c.id, FORTUNE_TABLE.c.message)

#: ``/queries``, ``/updates`` and ``/cached-queries`` without ``?n=`` (TechEmpower: 1 to 500).
DEFAULT_N = 1


def count(raw: str | None) -> int:
    """TechEmpower's rule for ``?n=``: not a number is 1, and it is kept within 1-500."""
    try:
        n = int(raw or "")
    except ValueError:
        return 1
    return min(max(n, 1), 500)


def ids(n: int) -> list[int]:
    """``n`` random world ids, each different (updates must not write one row twice)."""
    return random.sample(range(1, WORLD_ROWS + 1), n)


def new_number() -> int:
    return random.randint(1, WORLD_ROWS)


def world_rows() -> list[dict[str, Any]]:
    """The rows stored once: ``randomnumber`` is arbitrary, between 1 and 10,000."""
    return [{"id": n, "randomnumber": n * 7919 % WORLD_ROWS + 1} for n in range(1, WORLD_ROWS + 1)]


def fortune_rows() -> list[dict[str, Any]]:
    return [{"id": n, "message": message} for n, message in enumerate(FORTUNES, 1)]
