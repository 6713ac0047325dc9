"""Input the database refuses (a number out of range, a NUL character) answers 422, never 500.

The handlers are hand-written (not ``Resource``), so nothing bounds the values before the
driver sees them: the answer comes from the database battery's error handling.
"""

from collections.abc import Callable

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column

from prow import App
from prow.db import Connection, InvalidValue, Model, Session, get_or_404, use_database
from prow.testing import TestClient

BEYOND_32_BITS = 2**40  # fits SQLite's and MariaDB's BIGINT-sized ids, not PostgreSQL's INTEGER
BEYOND_64_BITS = 2**70  # fits no integer column anywhere


class IvItem(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class ItemIn(BaseModel):
    id: int
    name: str


IV_ITEMS = IvItem.__table__
ONE_ITEM = select(IV_ITEMS.c.name).where(IV_ITEMS.c.id == bindparam("id"))


def items_app(url: str) -> App:
    app = App()
    use_database(app, url)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, session: Session) -> str:
        return (await get_or_404(session, IvItem, item_id)).name

    @app.get("/names")
    async def name_of(item_id: int, connection: Connection) -> str | None:
        return (await connection.execute(ONE_ITEM, {"id": item_id})).scalar_one_or_none()

    @app.post("/items", status_code=201)
    async def add_item(item: ItemIn, session: Session) -> int:
        session.add(IvItem(id=item.id, name=item.name))
        await session.flush()
        return item.id

    return app


def _refused(answer: httpx.Response, problem: str) -> None:
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["title"] == "Invalid value"
    assert body["violation"] == problem
    assert str(BEYOND_64_BITS) not in answer.text  # the value is never echoed
    assert str(BEYOND_32_BITS) not in answer.text


def test_numbers_beyond_the_column_answer_422_not_500(
    database_url: str, backend: str, make_tables: Callable[..., None]
) -> None:
    make_tables(database_url, IvItem)
    with TestClient(items_app(database_url)) as client:
        assert client.post("/items", json={"id": 1, "name": "one"}).status_code == 201

        # Looked up: PostgreSQL's asyncpg refuses an int beyond int32 for an INTEGER
        # column, sqlite3 one beyond 64 bits; MariaDB compares and finds nothing.
        for big in (BEYOND_32_BITS, BEYOND_64_BITS):
            for path in (f"/items/{big}", f"/names?item_id={big}"):
                answer = client.get(path)
                if backend == "mysql" or (backend == "sqlite" and big == BEYOND_32_BITS):
                    assert answer.status_code in (200, 404), answer.text
                    assert answer.status_code == 404 or answer.json() is None
                else:
                    _refused(answer, "out_of_range")

        # Stored: every database refuses 2**70; only PostgreSQL's INTEGER refuses 2**40
        # (SQLite's INTEGER is 64-bit; MariaDB's INT is 32-bit and says so).
        too_big = client.post("/items", json={"id": BEYOND_64_BITS, "name": "x"})
        _refused(too_big, "out_of_range")
        if backend == "mysql":
            assert too_big.json()["fields"] == ["id"]
        big = client.post("/items", json={"id": BEYOND_32_BITS, "name": "x"})
        if backend == "sqlite":
            assert big.status_code == 201
        else:
            _refused(big, "out_of_range")
        # The app goes on serving: the refused statements left no broken connection.
        assert client.get("/items/1").json() == "one"


def test_a_nul_character_answers_422_where_the_database_refuses_it(
    database_url: str, backend: str, make_tables: Callable[..., None]
) -> None:
    make_tables(database_url, IvItem)
    with TestClient(items_app(database_url)) as client:
        answer = client.post("/items", json={"id": 7, "name": "nul\x00here"})
        if backend == "postgresql":  # text cannot hold U+0000 in PostgreSQL
            _refused(answer, "invalid_character")
            assert "NUL" in answer.json()["detail"]
            assert "nul" not in answer.json()["detail"].replace("NUL", "")
        else:
            assert answer.status_code == 201
        assert client.post("/items", json={"id": 8, "name": "fine"}).status_code == 201


def test_the_error_keeps_the_drivers_error_for_the_logs() -> None:
    error = InvalidValue("SELECT 1", {}, OverflowError("too big"), problem="out_of_range")
    assert error.problem == "out_of_range"
    assert isinstance(error.orig, OverflowError)
    with pytest.raises(InvalidValue):
        raise error
