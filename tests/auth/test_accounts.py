"""One account per person: usernames and e-mail addresses are normalized, compared without
case, unique in the database, and refused when they hide look-alike or invisible characters."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import shutil
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, String, func, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from auth.conftest import PASSWORD, SECRET, build_app
from prow import App, HTTPError, Request
from prow.auth import (
    AbstractUser,
    AccountError,
    Auth,
    User,
    canonical_username,
    hash_password,
    normalize_email,
    normalize_username,
    username_problem,
)
from prow.db import Database, MigrationError, Model, Session, database, makemigrations, migrate
from prow.testing import TestClient


class MailMember(AbstractUser, Model):
    """A user who logs in with a unique e-mail address."""

    __tablename__ = "auth_test_mail_member"
    email: Mapped[str] = mapped_column(String(254), unique=True)


def add_register_route(app: App) -> None:
    @app.post("/register", status_code=201)
    async def register(request: Request, session: Session) -> dict[str, Any]:
        data = await request.json()
        user = await Auth.of(app).create_user(
            session, data["username"], PASSWORD, email=data.get("email", "")
        )
        return {"username": user.username, "email": user.email}


@pytest.fixture
def client(any_url: str) -> Iterator[TestClient]:
    """The auth test app (users ann, bob, boss, zed) with a registration route."""
    app = build_app(any_url)
    add_register_route(app)
    with TestClient(app) as client:
        yield client


def register(client: TestClient, username: str, email: str = "") -> Any:
    return client.post("/register", json={"username": username, "email": email})


# -- the rules, without a database --------------------------------------------------------------


def test_one_name_written_many_ways_has_one_canonical_form() -> None:
    nfd = unicodedata.normalize("NFD", "Émile")
    assert nfd != "Émile"
    forms = ["Émile", "émile", "ÉMILE", nfd, "Ｅｍｉｌｅ".replace("Ｅ", "Ｅ\u0301", 1)]
    assert {canonical_username(form) for form in forms} == {"émile"}
    assert normalize_username(nfd) == "Émile"  # shown as typed, in the composed form
    assert normalize_username("Ａｌｉｃｅ") == "Alice"  # fullwidth letters are plain ones
    assert canonical_username("Straße") == canonical_username("STRASSE") == "strasse"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("alice ", "must not start or end with a space"),
        (" alice", "must not start or end with a space"),
        ("al ice", "may contain only letters, digits and . _ - @ + (not ' ')"),
        ("ali\u200bce", "invisible or control characters (U+200B ZERO WIDTH SPACE)"),
        ("ali\u202ece", "invisible or control characters (U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("alice\u3164", "invisible or control characters (U+1160 HANGUL JUNGSEONG FILLER)"),
        ("ali\x00ce", "invisible or control characters (U+0000"),
        ("\u0430lice", "must not mix characters of different scripts (Cyrillic and Latin)"),
        ("p\u0430yp\u0430l", "different scripts (Cyrillic and Latin)"),
        ("\u03bfmega", "different scripts (Greek and Latin)"),
        ("alice<script>", "may contain only letters, digits and . _ - @ + (not '<')"),
    ],
)
def test_look_alike_and_invisible_usernames_are_refused(name: str, reason: str) -> None:
    assert reason in (username_problem(unicodedata.normalize("NFKC", name)) or "")
    with pytest.raises(AccountError) as info:
        normalize_username(name)
    assert info.value.status == 422 and info.value.field == "username"
    assert info.value.errors[0]["loc"] == ["body", "username"]


@pytest.mark.parametrize(
    "name",
    ["alice", "Alice_1", "jean-luc.picard+x@example", "Ελένη", "Дмитрий", "山田たろう", "김민수"],
)
def test_names_in_one_script_are_accepted(name: str) -> None:
    assert username_problem(name) is None


def test_email_addresses_are_stored_in_lower_case() -> None:
    assert normalize_email("Alice@Example.COM") == "alice@example.com"
    assert normalize_email("ａｌｉｃｅ@example.com") == "alice@example.com"
    assert normalize_email("") == ""
    with pytest.raises(AccountError) as info:
        normalize_email("alice@example.com\u200b")
    assert info.value.field == "email"


def test_the_model_normalizes_whatever_sets_the_username() -> None:
    user = User(username="Ａｌｉｃｅ", email="Alice@Example.com")
    assert (user.username, user.username_key, user.email) == ("Alice", "alice", "alice@example.com")
    user.username = "BOB"
    assert user.username_key == "bob"
    with pytest.raises(AccountError):
        user.username = "b\u043eb"
    with pytest.raises(AccountError) as info:
        User(username="a" * 151)
    assert info.value.reason == "the username must have at most 150 characters"


# -- through the app, on SQLite and PostgreSQL -------------------------------------------------


def test_registration_refuses_another_form_of_a_taken_name(client: TestClient) -> None:
    created = register(client, "Alice")
    assert created.status_code == 201 and created.json()["username"] == "Alice"
    nfd = unicodedata.normalize("NFD", "Éva")
    assert register(client, nfd).json()["username"] == "Éva"  # stored composed
    for taken in ("alice", "ALICE", "Ａｌｉｃｅ", "Ann", "éva", "ÉVA"):
        answer = register(client, taken)
        assert answer.status_code == 409, (taken, answer.text)
        assert answer.json()["fields"] == ["username"]  # not the internal username_key
    for refused in ("\u0430lice", "alice\u200b", "\u202eecila", "alice "):
        answer = register(client, refused)
        assert answer.status_code == 422, (refused, answer.text)
        [error] = answer.json()["errors"]
        assert error["loc"] == ["body", "username"] and error["msg"].startswith("the username")


def test_login_with_another_case_or_form_of_the_username(client: TestClient) -> None:
    register(client, "Alice")
    for typed in ("Alice", "alice", "ALICE", "Ａｌｉｃｅ", "ANN"):
        answer = client.post("/auth/token", data={"username": typed, "password": PASSWORD})
        assert answer.status_code == 200, (typed, answer.text)
    look_alike = {"username": "\u0430lice", "password": PASSWORD}
    assert client.post("/auth/token", data=look_alike).status_code == 400
    session_login = client.post("/auth/login", json={"username": "aLiCe", "password": PASSWORD})
    assert session_login.json()["username"] == "Alice"


async def _race(url: str, names: tuple[str, str]) -> list[bool]:
    """Two registrations at once, each in its own transaction: which ones committed."""
    db = Database(url)
    auth = Auth(App(secret_key=SECRET))

    async def one(name: str) -> bool:
        async with db.session() as session:
            await auth.create_user(session, name, None)
            await asyncio.sleep(0.1)  # both rows are written before either commits
            try:
                await session.commit()
            except IntegrityError:
                return False
            return True

    try:
        await db.drop_all(*auth.tables())
        await db.create_all(*auth.tables())
        results = await asyncio.gather(*(one(name) for name in names), return_exceptions=True)
        async with db.session() as session:
            count = await session.scalar(select(func.count()).select_from(User))
        assert count == 1
        return [result is True for result in results]
    finally:
        await db.drop_all(*auth.tables())
        await db.dispose()


def test_the_database_keeps_one_account_when_registrations_race(any_url: str) -> None:
    # No check-then-insert in Python could stop this: the unique username_key does.
    assert sorted(asyncio.run(_race(any_url, ("Alice", "alice")))) == [False, True]


# -- e-mail addresses ---------------------------------------------------------------------------


@pytest.fixture
def mail_client(any_url: str) -> Iterator[TestClient]:
    """An app whose users log in by a unique e-mail address."""

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        tables = Auth.of(app).tables()
        await database(app).drop_all(*tables)
        await database(app).create_all(*tables)
        yield
        await database(app).drop_all(*tables)

    app = App(secret_key=SECRET, database_url=any_url, lifespan=lifespan)
    Auth(app, user_model=MailMember, login_field="email", prefix=None)
    add_register_route(app)

    @app.post("/login")
    async def login(request: Request, session: Session) -> str:
        data = await request.json()
        user = await Auth.of(app).authenticate(session, data["email"], PASSWORD)
        if user is None:
            raise HTTPError(401, "invalid email or password")
        return user.username

    with TestClient(app) as client:
        yield client


def test_email_addresses_differing_in_case_are_one_account(mail_client: TestClient) -> None:
    created = register(mail_client, "mo", "Mo@Example.com")
    assert created.json()["email"] == "mo@example.com"
    taken = register(mail_client, "other", "MO@example.COM")
    assert taken.status_code == 409 and taken.json()["fields"] == ["email"]
    for typed in ("mo@example.com", "MO@EXAMPLE.COM", "Mo@Example.com"):
        answer = mail_client.post("/login", json={"email": typed})
        assert answer.status_code == 200 and answer.json() == "mo", typed
    hidden = mail_client.post("/login", json={"email": "mo@example.com\u200b"})
    assert hidden.status_code == 401


def test_an_address_stored_before_lower_casing_still_logs_in(
    mail_client: TestClient, any_url: str
) -> None:
    hashed = hash_password(PASSWORD)  # before the loop runs: hashing on it is refused

    async def insert_legacy_row() -> None:  # as an older prow stored it: case kept
        db = Database(any_url)
        async with db.engine.begin() as connection:
            await connection.execute(
                MailMember.__table__.insert().values(
                    username="old",
                    username_key="old",
                    email="Old@Example.com",
                    password=hashed,
                )
            )
        await db.dispose()

    asyncio.run(insert_legacy_row())
    assert mail_client.post("/login", json={"email": "Old@Example.com"}).json() == "old"
    # Until the migration lower-cases it, only the stored form finds it.
    assert mail_client.post("/login", json={"email": "old@example.com"}).status_code == 401


# -- existing databases -------------------------------------------------------------------------

DEMO_MIGRATIONS = Path(__file__).parents[2] / "examples" / "demo" / "migrations"
BEFORE_KEYS = "6221d7818610"  # the demo's users, before username_key


def _insert_users(url: str, *names: str) -> None:
    async def insert() -> None:
        db = Database(url)
        async with db.engine.begin() as connection:
            for name in names:
                await connection.execute(
                    text(
                        "INSERT INTO auth_user (username, email, password, is_active, "
                        "is_staff, is_superuser) VALUES (:name, '', '', true, false, false)"
                    ),
                    {"name": name},
                )
        await db.dispose()

    asyncio.run(insert())


def _keys(url: str) -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        db = Database(url)
        async with db.engine.connect() as connection:
            query = text("SELECT username, username_key FROM auth_user ORDER BY id")
            rows = [(row[0], row[1]) for row in await connection.execute(query)]
        await db.dispose()
        return rows

    return asyncio.run(read())


@pytest.fixture
def old_database(any_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The demo's database as it was before username_key; the migrations folder copied."""
    folder = tmp_path / "migrations"
    shutil.copytree(DEMO_MIGRATIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    migrate("base", url=any_url, directory=folder)  # leftovers of an interrupted run
    migrate(BEFORE_KEYS, url=any_url, directory=folder)
    yield any_url, folder
    migrate("base", url=any_url, directory=folder)


def test_the_migration_fills_the_keys_of_existing_users(old_database: tuple[str, Path]) -> None:
    url, folder = old_database
    _insert_users(url, "Ａｌｉｃｅ", "Bob")
    migrate("head", url=url, directory=folder)
    assert _keys(url) == [("Ａｌｉｃｅ", "alice"), ("Bob", "bob")]
    # The models and the migrated database agree: autogenerate finds nothing to write.
    importlib.import_module("examples.demo.app")  # the demo's own models
    tables = MetaData()
    for name in sa_inspect_tables(url):
        if name in Model.metadata.tables:
            Model.metadata.tables[name].to_metadata(tables)
    assert makemigrations("check", url=url, directory=folder, models=tables) is None
    migrate(BEFORE_KEYS, url=url, directory=folder)  # and back down


def test_the_migration_names_users_that_would_become_one(old_database: tuple[str, Path]) -> None:
    url, folder = old_database
    _insert_users(url, "Alice", "bob", "ALICE")
    with pytest.raises(MigrationError) as info:
        migrate("head", url=url, directory=folder)
    assert "auth_user has users 'Alice' (id 1) and 'ALICE' (id 3)" in str(info.value)
    assert "rename one of them, then run `prow migrate` again" in str(info.value)


def sa_inspect_tables(url: str) -> list[str]:
    async def read() -> list[str]:
        db = Database(url)
        async with db.engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        await db.dispose()
        return names

    return asyncio.run(read())
