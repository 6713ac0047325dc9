"""Database errors answered over HTTP: 404, 409 naming the field, 422, 503 + Retry-After."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ForeignKey, String, delete, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, JSONResponse, Request
from prow.db import Database, DatabaseUnavailable, Model, Session, parse_integrity_error
from prow.testing import AsyncTestClient, TestClient


class TeOwner(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(50))


class TePet(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("te_owner.id"))


def pets_app(url: str) -> App:
    app = App()
    app.install(Database(url))

    @app.post("/owners", status_code=201)
    async def add_owner(email: str, session: Session, name: str = "x", flush: bool = True) -> str:
        session.add(TeOwner(email=email, name=name if name != "null" else None))
        if flush:
            await session.flush()
        return "created"

    @app.post("/pets", status_code=201)
    async def add_pet(owner_id: int, session: Session) -> str:
        session.add(TePet(owner_id=owner_id))
        return "created"  # the violation surfaces at commit, after the handler

    @app.delete("/owners/{owner_id}", status_code=204)
    async def remove_owner(owner_id: int, session: Session) -> None:
        await session.execute(delete(TeOwner).where(TeOwner.id == owner_id))

    @app.get("/owners/{owner_id}")
    async def owner(owner_id: int, session: Session) -> str:
        query = select(TeOwner.email).where(TeOwner.id == owner_id)
        return (await session.execute(query)).scalar_one()

    return app


def test_integrity_errors_answer_409_or_422_naming_the_field(
    database_url: str, backend: str, make_tables: Callable[..., None]
) -> None:
    make_tables(database_url, TeOwner, TePet)
    with TestClient(pets_app(database_url)) as client:
        assert client.post("/owners?email=ada@example.com").status_code == 201
        duplicate = client.post("/owners?email=ada@example.com")
        assert duplicate.status_code == 409
        assert duplicate.headers["content-type"] == "application/problem+json"
        body = duplicate.json()
        assert body["violation"] == "unique"
        assert body["fields"] == ["email"]
        assert body["detail"] == "email must be unique: another row already has this value."
        assert "ada@example.com" not in duplicate.text  # values are never echoed

        at_commit = client.post("/owners?email=ada@example.com&flush=false")
        assert at_commit.status_code == 409  # found at commit: still not a 201

        missing_parent = client.post("/pets?owner_id=999")
        assert missing_parent.status_code == 409
        assert missing_parent.json()["violation"] == "foreign_key"
        if backend != "sqlite":  # SQLite does not say which key failed
            assert missing_parent.json()["fields"] == ["owner_id"]
            assert missing_parent.json()["constraint"] == "fk_te_pet_owner_id_te_owner"
            assert (
                missing_parent.json()["detail"] == "owner_id refers to a row that does not exist."
            )

        assert client.post("/pets?owner_id=1").status_code == 201
        still_used = client.delete("/owners/1")
        assert still_used.status_code == 409
        # SQLite names no key, but only a DELETE can leave rows pointing nowhere.
        assert still_used.json()["violation"] == "referenced"
        assert still_used.json()["detail"] == "This row is still referenced by other rows."

        no_name = client.post("/owners?email=bob@example.com&name=null")
        assert no_name.status_code == 422
        assert no_name.json()["fields"] == ["name"]
        assert no_name.json()["detail"] == "name must not be null."

        assert client.get("/owners/1").json() == "ada@example.com"
        none = client.get("/owners/42")  # scalar_one() on no row
        assert none.status_code == 404
        assert none.json()["detail"] == "No row was found."


def test_unreachable_database_answers_503_then_recovers(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    app = App()
    app.install(Database(f"sqlite:///{folder / 'db.sqlite3'}"))

    @app.get("/one")
    async def one(session: Session) -> int:
        return (await session.execute(select(1))).scalar_one()

    # No lifespan: a missing folder would stop the start-up (prow.E505, tested elsewhere);
    # here it goes missing while the app serves.
    client = TestClient(app)
    down = client.get("/one")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"
    assert down.json()["detail"] == "The database is unavailable; try again shortly."
    folder.mkdir()  # the database "comes back": the same engine now connects
    assert client.get("/one").json() == 1
    client.close()


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_unreachable_server_answers_503(kind: str) -> None:
    url = {
        "postgresql": "postgresql://postgres@127.0.0.1:1/test",
        "mysql": "mysql://root@127.0.0.1:1/test",
    }
    app = App()
    app.install(Database(url[kind]))

    @app.get("/one")
    async def one(session: Session) -> int:
        return (await session.execute(select(1))).scalar_one()

    with TestClient(app) as client:
        down = client.get("/one")
    assert down.status_code == 503
    assert down.headers["retry-after"] == "5"


_CONNECTION_ID = {
    "postgresql": ("SELECT pg_backend_pid()", "SELECT pg_terminate_backend({})"),
    "mysql": ("SELECT CONNECTION_ID()", "KILL {}"),
}


def test_a_connection_killed_by_the_server_is_replaced(server_database_url: str) -> None:
    url = server_database_url
    ask, kill = _CONNECTION_ID[make_url(url).get_backend_name()]
    app = App()
    app.install(Database(url))

    @app.get("/id")
    async def connection_id(session: Session) -> int:
        return int((await session.execute(text(ask))).scalar_one())

    with TestClient(app) as client:
        first = client.get("/id").json()
        asyncio.run(_execute(url, kill.format(int(first))))
        # The dead connection is replaced: at checkout when asyncpg has seen it close, else
        # its first statement, which failed before anything was sent, runs on a new one.
        second = client.get("/id")
        assert second.status_code == 200
        assert second.json() != first


async def _execute(url: str, statement: str) -> None:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await db.dispose()


@pytest.mark.anyio
async def test_pool_timeout_answers_503(tmp_path: Path) -> None:
    app = App()
    db = app.install(
        Database(
            f"sqlite:///{tmp_path / 'db.sqlite3'}", pool_size=1, max_overflow=0, pool_timeout=0.05
        )
    )

    @app.get("/one")
    async def one(session: Session) -> int:
        return (await session.execute(select(1))).scalar_one()

    async with AsyncTestClient(app) as client:
        async with db.engine.connect() as held:  # the only connection is taken
            await held.execute(select(1))
            busy = await client.get("/one")
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "5"
        assert (await client.get("/one")).json() == 1


def test_other_database_errors_stay_500(tmp_path: Path) -> None:
    app = App()
    app.install(Database(f"sqlite:///{tmp_path / 'db.sqlite3'}"))

    @app.get("/bug")
    async def bug(session: Session) -> Any:
        return (await session.execute(text("SELECT * FROM no_such_table"))).all()

    with TestClient(app) as client, pytest.raises(Exception, match="no such table"):
        client.get("/bug")  # a programming error reaches the test, not a 503
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/bug").status_code == 500


def test_handlers_the_user_registered_are_kept(tmp_path: Path) -> None:
    app = App()

    @app.exception_handler(IntegrityError)
    async def mine(request: Request, exc: IntegrityError) -> JSONResponse:
        return JSONResponse({"mine": True}, status_code=400)

    app.install(Database(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    app.build()  # the Database extension installs its answers when the app is built
    assert app.exception_handlers[IntegrityError] is mine
    assert DatabaseUnavailable in app.exception_handlers


# -- reading driver messages ------------------------------------------------------------


class _MySQLError(Exception):
    pass


def _error(orig: BaseException) -> IntegrityError:
    return IntegrityError("INSERT ...", {}, orig)


@pytest.mark.parametrize(
    ("orig", "kind", "fields", "constraint"),
    [
        (Exception("UNIQUE constraint failed: te_owner.email"), "unique", ["email"], None),
        (Exception("UNIQUE constraint failed: t.a, t.b"), "unique", ["a", "b"], None),
        (Exception("NOT NULL constraint failed: t.name"), "not_null", ["name"], None),
        (Exception("CHECK constraint failed: ck_t_positive"), "check", [], "ck_t_positive"),
        (Exception("FOREIGN KEY constraint failed"), "foreign_key", [], None),
        (Exception("something else"), "unknown", [], None),
        (
            _MySQLError(1062, "Duplicate entry 'a' for key 'uq_te_owner_email'"),
            "unique",
            ["email"],
            "uq_te_owner_email",
        ),
        (
            _MySQLError(1062, "Duplicate entry 'a' for key 'te_owner.uq_te_owner_email'"),
            "unique",
            ["email"],
            "uq_te_owner_email",
        ),
        (_MySQLError(1048, "Column 'name' cannot be null"), "not_null", ["name"], None),
        (
            _MySQLError(4025, "CONSTRAINT `ck_t_positive` failed for `test`.`t`"),
            "check",
            [],
            "ck_t_positive",
        ),
        (
            _MySQLError(3819, "Check constraint 'ck_t_positive' is violated."),
            "check",
            [],
            "ck_t_positive",
        ),
    ],
)
def test_driver_messages_are_read(
    orig: BaseException, kind: str, fields: list[str], constraint: str | None
) -> None:
    violation = parse_integrity_error(_error(orig))
    assert (violation.kind, violation.fields, violation.constraint) == (kind, fields, constraint)


def test_check_violation_is_422_naming_the_rule() -> None:
    from prow.db import integrity_error_answer

    answer = integrity_error_answer(_error(Exception("CHECK constraint failed: ck_t_positive")))
    assert answer.status == 422
    assert answer.detail == "The value breaks the rule ck_t_positive."


# -- values too long for their column ----------------------------------------------------


class TeNote(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(5))
    body: Mapped[str] = mapped_column(String(200), default="")


def notes_app(url: str) -> App:
    app = App()
    app.install(Database(url))

    @app.post("/notes", status_code=201)
    async def add_note(title: str, session: Session, body: str = "") -> int:
        note = TeNote(title=title, body=body)
        session.add(note)
        await session.flush()
        return note.id

    @app.put("/notes/{note_id}")
    async def rename(note_id: int, title: str, session: Session) -> str:
        note = await session.get_one(TeNote, note_id)
        note.title = title
        return "renamed"  # the UPDATE is sent at commit, after the handler

    return app


def test_a_value_too_long_for_its_column_answers_422_naming_it(
    server_database_url: str, make_tables: Callable[..., None]
) -> None:
    make_tables(server_database_url, TeNote)
    with TestClient(notes_app(server_database_url)) as client:
        note_id = client.post("/notes?title=short").json()
        too_long = client.post("/notes?title=much-too-long")
        assert too_long.status_code == 422
        assert too_long.headers["content-type"] == "application/problem+json"
        body = too_long.json()
        assert body["violation"] == "too_long"
        assert body["fields"] == ["title"]
        assert body["max_lengths"] == {"title": 5}
        assert body["detail"] == "The value is too long for title (at most 5 characters)."
        assert "much-too-long" not in too_long.text  # values are never echoed

        renamed = client.put(f"/notes/{note_id}?title=also-too-long")
        assert renamed.status_code == 422
        assert renamed.json()["fields"] == ["title"]
        assert client.put(f"/notes/{note_id}?title=fine").json() == "renamed"


def test_too_long_answer_without_a_known_column() -> None:
    from sqlalchemy.exc import DataError

    from prow.db import ValueTooLong, too_long_answer

    error = ValueTooLong("INSERT ...", {}, Exception("value too long"))
    assert isinstance(error, DataError)
    answer = too_long_answer(error)
    assert answer.status == 422
    assert answer.detail == "A value is longer than its column allows."
    assert answer.extra["fields"] == []


def test_too_long_error_built_with_its_columns() -> None:
    import pickle

    from prow.db import ValueTooLong, too_long_answer

    error = ValueTooLong(
        "INSERT ...", {}, Exception("too long"), fields=["title", "code"], lengths={"title": 5}
    )
    answer = too_long_answer(error)
    assert answer.detail == "The value is too long for title (at most 5 characters), code."
    assert answer.extra == {
        "violation": "too_long",
        "fields": ["title", "code"],
        "max_lengths": {"title": 5},
    }
    copied = pickle.loads(pickle.dumps(error))  # e.g. sent back from a worker process
    assert (copied.fields, copied.lengths) == (["title", "code"], {"title": 5})
    assert copied.statement == "INSERT ..."


def test_sqlite_stores_long_values_whole(tmp_path: Path, make_tables: Callable[..., None]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    make_tables(url, TeNote)
    with TestClient(notes_app(url)) as client:
        assert client.post("/notes?title=much-too-long").status_code == 201  # no lengths
