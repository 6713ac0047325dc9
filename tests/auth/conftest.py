"""Shared set-up for prow.auth tests: an app with sessions, auth tables and four users.

``build_app(url)`` makes an ``App`` with ``SessionMiddleware`` and ``Auth(app)``; its
lifespan creates the auth tables, adds the users below and drops the tables afterwards.

======  ============================================================
ann     a plain user holding ``article.change`` directly
bob     in group "editors", which holds ``article.delete``
boss    a superuser
zed     inactive
======  ============================================================
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from _services import require
from prow import App
from prow.auth import Auth, Group, grant, set_password_hasher
from prow.db import database
from prow.middleware import Middleware
from prow.sessions import SessionMiddleware

PASSWORD = "correct horse battery"
SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
POSTGRES_URL = os.environ.get(
    "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def seed(auth: Auth, session: Any) -> None:
    ann = await auth.create_user(session, "ann", PASSWORD, email="ann@example.com")
    await grant(session, ann, "article.change")
    bob = await auth.create_user(session, "bob", PASSWORD)
    editors = Group(name="editors")
    session.add(editors)
    await grant(session, editors, "article.delete")
    (await bob.awaitable_attrs.groups).append(editors)
    await auth.create_user(session, "boss", PASSWORD, is_superuser=True, is_staff=True)
    await auth.create_user(session, "zed", PASSWORD, is_active=False)


def build_app(
    url: str,
    *,
    auth_class: type[Auth] = Auth,
    store: Any = None,
    models: tuple[Any, ...] = (),
    populate: Callable[[Any], Awaitable[None]] | None = None,
    **options: Any,
) -> App:
    """An app on ``url`` with sessions, ``auth_class(app, **options)`` and seeded users.

    ``models`` get tables too, filled by ``populate(session)`` after the users exist.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        db = database(app)
        tables = [*Auth.of(app).tables(), *(model.__table__ for model in models)]
        await db.drop_all(*tables)  # leftovers of an interrupted run on a server
        await db.create_all(*tables)
        async with db.session() as session:
            await seed(Auth.of(app), session)
            if populate is not None:
                await populate(session)
            await session.commit()
        yield
        await db.drop_all(*tables)

    app = App(
        secret_key=SECRET,
        database_url=url,
        lifespan=lifespan,
        middleware=[Middleware(SessionMiddleware, store=store)],
    )
    auth_class(app, **options)
    return app


@pytest.fixture(autouse=True)
def fast_hashing() -> Iterator[None]:
    """Cheap argon2id parameters: the real ones take ~0.4 s per hash on purpose.

    ``test_passwords.py::test_default_parameters_are_strong`` checks the real ones.
    """
    previous = set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    set_password_hasher(previous)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'auth.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, then PostgreSQL (skipped when down, unless PROW_REQUIRE_SERVICES=1)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'auth.sqlite3'}"
    parsed = make_url(POSTGRES_URL)
    require("PostgreSQL", parsed.host or "127.0.0.1", parsed.port or 5432)
    return POSTGRES_URL


@pytest.fixture
def make_app(sqlite_url: str) -> Callable[..., App]:
    """``make_app(**auth_options)``: :func:`build_app` on a fresh SQLite file."""
    return lambda **options: build_app(sqlite_url, **options)


def token_for(client: Any, username: str = "ann", password: str = PASSWORD) -> str:
    answer = client.post("/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
