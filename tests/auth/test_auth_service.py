"""Handlers ask for the app's ``Auth`` (``auth: Auth[Member]``) and for ``CurrentUser[Member]``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from auth.conftest import PASSWORD, SECRET, bearer, token_for
from prow import App, HTTPError
from prow.auth import AbstractUser, Auth, CurrentUser, OptionalUser
from prow.db import Database, DBSession, Model, database
from prow.testing import TestClient


class Reader(AbstractUser, Model):
    __tablename__ = "service_reader"
    nickname: Mapped[str | None] = mapped_column(String(50))


def reader_app(tmp_path: Path) -> App:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        auth = app.extension(Auth)
        await database(app).create_all(*auth.tables())
        async with database(app).session() as session:
            await auth.create_user(session, "mo", PASSWORD, nickname="Mo")
            await session.commit()
        yield

    url = f"sqlite+aiosqlite:///{tmp_path / 'readers.sqlite3'}"
    app = App(
        secret_key=SECRET,
        lifespan=lifespan,
        extensions=[Database(url), Auth(user_model=Reader, prefix=None)],
    )

    @app.post("/login")
    async def log_in(username: str, password: str, auth: Auth[Reader], session: DBSession) -> str:
        user = await auth.authenticate(session, username, password)
        if user is None:
            raise HTTPError(401, "wrong username or password")
        return auth.create_access_token(user)

    @app.get("/nickname")
    async def nickname(reader: CurrentUser[Reader]) -> str | None:
        return reader.nickname

    @app.get("/greeting")
    async def greeting(reader: OptionalUser[Reader]) -> str:
        return f"hello {reader.nickname}" if reader else "hello stranger"

    return app


def test_a_handler_gets_the_apps_auth_and_its_typed_user(tmp_path: Path) -> None:
    with TestClient(reader_app(tmp_path)) as client:
        token = client.post("/login", params={"username": "mo", "password": PASSWORD}).json()
        assert client.get("/nickname", headers=bearer(token)).json() == "Mo"
        assert client.get("/greeting", headers=bearer(token)).json() == "hello Mo"
        assert client.get("/greeting").json() == "hello stranger"
        assert client.get("/nickname").status_code == 401
        wrong = client.post("/login", params={"username": "mo", "password": "not it"})
        assert wrong.status_code == 401


def test_the_injected_auth_is_the_installed_one_and_adds_no_parameter(
    make_app: Callable[..., App],
) -> None:
    app = make_app()
    seen: list[Auth] = []

    @app.get("/whoami")
    async def whoami(user: CurrentUser, auth: Auth) -> str:
        seen.append(auth)
        return user.username

    with TestClient(app) as client:
        assert client.get("/whoami", headers=bearer(token_for(client))).json() == "ann"
    assert seen == [app.extension(Auth)]
    assert "parameters" not in app.openapi()["paths"]["/whoami"]["get"]


def test_two_apps_each_inject_their_own_auth(tmp_path: Path) -> None:
    apps = [
        App(
            secret_key=SECRET,
            extensions=[Database(f"sqlite:///{tmp_path / f'{n}.sqlite3'}"), Auth(prefix=f"/a{n}")],
        )
        for n in range(2)
    ]
    for app in apps:

        @app.get("/prefix")
        async def prefix(auth: Auth) -> str | None:
            return auth.prefix

    for n, app in enumerate(apps):
        with TestClient(app) as client:
            assert client.get("/prefix").json() == f"/a{n}"
