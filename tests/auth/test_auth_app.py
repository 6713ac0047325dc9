"""Auth set-up: configuration errors, custom user models, OpenAPI security, migrations."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from sqlalchemy import MetaData, String
from sqlalchemy.orm import Mapped, mapped_column

from auth.conftest import PASSWORD, SECRET, bearer
from prow import App, ConfigurationError, Depends
from prow.auth import AbstractAPIKey, AbstractUser, Auth, CurrentUser, current_user
from prow.db import Model, database
from prow.testing import TestClient


class Member(AbstractUser, Model):
    __tablename__ = "auth_test_member"
    nickname: Mapped[str | None] = mapped_column(String(50))


class MemberKey(AbstractAPIKey, Model):
    __tablename__ = "auth_test_member_key"
    user_model = Member


def test_auth_twice_on_one_app_is_refused() -> None:
    app = App(secret_key=SECRET)
    Auth(app)
    with pytest.raises(ConfigurationError) as info:
        Auth(app)
    assert info.value.code == "prow.E161"


def test_current_user_without_auth_says_how_to_fix() -> None:
    with pytest.raises(ConfigurationError) as info:
        Auth.of(App())
    assert info.value.code == "prow.E162"


def test_a_user_model_must_be_an_abstract_user() -> None:
    with pytest.raises(ConfigurationError) as info:
        Auth(App(secret_key=SECRET), user_model=dict)
    assert info.value.code == "prow.E164"


def test_api_keys_are_off_for_a_custom_user_model_without_a_key_model() -> None:
    auth = Auth(App(secret_key=SECRET), user_model=Member)
    assert auth.api_key_model is None
    assert "APIKeyHeader" not in auth.security_schemes()


def test_no_secret_key_stops_start_up() -> None:
    app = App()
    Auth(app)
    with pytest.raises(ConfigurationError) as info, TestClient(app):
        pass
    assert info.value.code == "prow.E100"


def test_a_custom_user_model_logs_in_and_types_its_own_class(tmp_path: Path) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        auth = Auth.of(app)
        await database(app).create_all(*auth.tables())
        async with database(app).session() as session:
            await auth.create_user(session, "mo", PASSWORD, nickname="Mo")
            await session.commit()
        yield

    app = App(
        secret_key=SECRET,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        lifespan=lifespan,
    )
    auth = Auth(app, user_model=Member, api_key_model=MemberKey, prefix="/account")
    assert {t.name for t in auth.tables()} >= {
        "auth_test_member",
        "auth_test_member_groups",
        "auth_test_member_user_permissions",
        "auth_test_member_key",
    }

    @app.get("/nickname")
    async def nickname(user: Annotated[Member, Depends(current_user)]) -> str | None:
        return user.nickname

    with TestClient(app) as client:
        form = {"username": "mo", "password": PASSWORD}
        token = client.post("/account/token", data=form).json()["access_token"]
        assert client.get("/nickname", headers=bearer(token)).json() == "Mo"
        assert app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"] == {
            "type": "oauth2",
            "flows": {
                "password": {
                    "tokenUrl": "/account/token",
                    "refreshUrl": "/account/token",
                    "scopes": {},
                }
            },
        }


def test_openapi_shows_the_authorize_schemes() -> None:
    app = App(secret_key=SECRET)
    Auth(app)

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return str(user)

    @app.get("/open")
    async def open_route() -> str:
        return "hi"

    document = app.openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    assert schemes["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert document["paths"]["/me"]["get"]["security"] == [
        {"OAuth2PasswordBearer": []},
        {"APIKeyHeader": []},
    ]
    assert "security" not in document["paths"]["/open"]["get"]
    assert "/auth/token" in document["paths"] and "/auth/login" in document["paths"]


def test_openapi_shows_only_the_schemes_the_app_takes() -> None:
    # No API key model: a client that sent X-API-Key, as the document offered, got a 401.
    app = App(secret_key=SECRET, extensions=[Auth(user_model=Member, prefix=None)])

    @app.get("/me")
    async def me(user: CurrentUser) -> str:
        return str(user)

    document = app.openapi()
    assert list(document["components"]["securitySchemes"]) == ["OAuth2PasswordBearer"]
    assert document["paths"]["/me"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]


def test_no_routes_with_prefix_none() -> None:
    app = App(secret_key=SECRET)
    Auth(app, prefix=None)
    assert not [route for route in app.routes if route.path.startswith("/auth")]


def test_the_auth_tables_are_migratable(tmp_path: Path) -> None:
    from prow.db import makemigrations

    app = App(secret_key=SECRET)
    auth = Auth(app)
    models = MetaData()
    for table in auth.tables():
        table.to_metadata(models)
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    written = makemigrations("auth", url=url, directory=tmp_path / "migrations", models=models)
    assert written is not None
    text = written.read_text()
    for name in ("auth_user", "auth_group", "auth_permission", "auth_user_groups", "auth_api_key"):
        assert f"'{name}'" in text or f'"{name}"' in text


def test_user_str_and_password_helpers() -> None:
    user: Any = Member(username="kim")
    user.set_password(PASSWORD)
    assert str(user) == "kim" and user.check_password(PASSWORD)
    assert not user.check_password("not it")


def test_session_login_without_session_middleware_names_the_fix(tmp_path: Path) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        auth = Auth.of(app)
        await database(app).create_all(*auth.tables())
        async with database(app).session() as session:
            await auth.create_user(session, "mo", PASSWORD)
            await session.commit()
        yield

    app = App(
        secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", lifespan=lifespan
    )
    Auth(app)
    with TestClient(app) as client, pytest.raises(ConfigurationError) as info:
        client.post("/auth/login", json={"username": "mo", "password": PASSWORD})
    assert info.value.code == "prow.E165"
