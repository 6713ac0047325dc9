"""Auth options for APIs of their own: token schemes, login by email, tokens, set_password."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from auth.conftest import PASSWORD, SECRET, bearer, token_for
from prow import App, ConfigurationError, Depends, HTTPError, Request
from prow.auth import (
    AbstractUser,
    Auth,
    CurrentUser,
    User,
    current_user,
    optional_user,
    set_password_hasher,
)
from prow.db import Model, Session, database
from prow.testing import TestClient


class EmailMember(AbstractUser, Model):
    """A user who logs in with a unique email."""

    __tablename__ = "auth_test_email_member"
    email: Mapped[str] = mapped_column(String(254), unique=True)


Member = Annotated[EmailMember, Depends(current_user)]
MaybeMember = Annotated[EmailMember | None, Depends(optional_user)]


def member_app(tmp_path: Path, **options: Any) -> App:
    @contextlib.asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[None]:
        auth = Auth.of(app)
        await database(app).create_all(*auth.tables())
        async with database(app).session() as session:
            await auth.create_user(session, "mo", PASSWORD, email="mo@example.com")
            await session.commit()
        yield

    app = App(
        secret_key=SECRET, database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", lifespan=lifespan
    )
    auth = Auth(app, user_model=EmailMember, **options)

    @app.post("/login")
    async def login(email: str, password: str, session: Session) -> str:
        user = await auth.authenticate(session, email, password)
        if user is None:
            raise HTTPError(401, "invalid email or password")
        return auth.create_access_token(user)

    @app.get("/me")
    async def me(member: Member) -> str:
        return member.email

    @app.get("/hello")
    async def hello(member: MaybeMember) -> str:
        return f"hello {member.email}" if member else "hello stranger"

    @app.put("/password")
    async def change(password: str, member: Member) -> None:
        await auth.set_password(member, password)

    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = member_app(tmp_path, token_schemes=("Token",), login_field="email", prefix=None)
    with TestClient(app) as client:
        yield client


def _token(client: TestClient, password: str = PASSWORD) -> str:
    answer = client.post("/login", params={"email": "mo@example.com", "password": password})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()
    return token


# -- token_schemes -----------------------------------------------------------------------------


def test_token_schemes_choose_the_authorization_scheme(client: TestClient) -> None:
    token = _token(client)
    assert client.get("/me", headers={"Authorization": f"Token {token}"}).json() == "mo@example.com"
    assert client.get("/me", headers={"Authorization": f"token {token}"}).status_code == 200
    assert client.get("/me", headers=bearer(token)).status_code == 401  # Bearer is not listed

    anonymous = client.get("/me")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Token realm="api"'
    forged = client.get("/me", headers={"Authorization": "Token not.a.jwt"})
    assert forged.status_code == 401
    assert forged.json()["detail"] == "invalid token: the token is malformed"
    assert forged.headers["www-authenticate"] == 'Token realm="api"'
    assert client.get("/hello", headers={"Authorization": "Token nope"}).status_code == 401


def test_several_token_schemes(make_app: Callable[..., App]) -> None:
    app = make_app(token_schemes=("Bearer", "Token"))

    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> str:
        return user.username

    with TestClient(app) as client:
        token = token_for(client)
        assert client.get("/whoami", headers=bearer(token)).json() == "ann"
        assert client.get("/whoami", headers={"Authorization": f"Token {token}"}).json() == "ann"
        assert client.get("/whoami").headers["www-authenticate"] == 'Bearer realm="api"'
    assert Auth.of(app).security_schemes()["OAuth2PasswordBearer"]["type"] == "oauth2"


@pytest.mark.parametrize("schemes", [(), ("Api-Key",), ("Bad Scheme",), ("Token:",)])
def test_unusable_token_schemes_stop_start_up(schemes: tuple[str, ...]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Auth(App(secret_key=SECRET), token_schemes=schemes)
    assert info.value.code == "prow.E166"
    assert "token_schemes" in info.value.message


def test_a_single_scheme_string_is_accepted() -> None:
    auth = Auth(App(secret_key=SECRET), token_schemes="Token")
    assert auth.token_schemes == ("Token",)


def test_openapi_describes_the_token_scheme(tmp_path: Path) -> None:
    token_app = member_app(tmp_path, token_schemes=("Token",), login_field="email", prefix=None)
    scheme = token_app.openapi()["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["type"] == "apiKey" and scheme["name"] == "Authorization"
    assert "Authorization: Token <token>" in scheme["description"]
    assert token_app.openapi()["paths"]["/me"]["get"]["security"][0] == {"OAuth2PasswordBearer": []}

    bearer_app = App(secret_key=SECRET)
    Auth(bearer_app, prefix=None)  # no token route: plain HTTP bearer, no password flow
    schemes = Auth.of(bearer_app).security_schemes()
    assert schemes["OAuth2PasswordBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


# -- login_field and create_access_token -------------------------------------------------------


def test_login_by_email_with_an_access_token_only(client: TestClient) -> None:
    token = _token(client)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 15 * 60  # access_token_lifetime
    for email, password in [("mo@example.com", "wrong"), ("no@example.com", PASSWORD)]:
        answer = client.post("/login", params={"email": email, "password": password})
        assert answer.status_code == 401
        assert answer.json()["detail"] == "invalid email or password"
    by_username = client.post("/login", params={"email": "mo", "password": PASSWORD})
    assert by_username.status_code == 401  # the username is no longer what a login names


def test_the_token_route_reads_the_login_field(tmp_path: Path) -> None:
    with TestClient(member_app(tmp_path, login_field="email")) as client:
        form = {"username": "mo@example.com", "password": PASSWORD}  # OAuth2 calls it username
        answer = client.post("/auth/token", data=form)
        assert answer.status_code == 200
        assert client.get("/me", headers=bearer(answer.json()["access_token"])).is_success


@pytest.mark.parametrize("field", ["email", "nickname", "password"])
def test_login_field_must_be_a_unique_column(field: str) -> None:
    # The default User's email is not unique: two users could share it.
    with pytest.raises(ConfigurationError) as info:
        Auth(App(secret_key=SECRET), user_model=User, login_field=field)
    assert info.value.code == "prow.E167"
    assert f"login_field={field!r} must name a unique column of User" in info.value.message


# -- set_password and hashing off the event loop -----------------------------------------------


def test_set_password_ends_earlier_tokens(client: TestClient) -> None:
    old = {"Authorization": f"Token {_token(client)}"}
    assert client.put(
        "/password", params={"password": "a brand new phrase"}, headers=old
    ).is_success
    assert client.get("/me", headers=old).status_code == 401
    assert client.post("/login", params={"email": "mo@example.com", "password": PASSWORD}).is_error
    new = {"Authorization": f"Token {_token(client, 'a brand new phrase')}"}
    assert client.get("/me", headers=new).status_code == 200


def test_set_password_checks_strength_unless_told_not_to(client: TestClient) -> None:
    auth = {"Authorization": f"Token {_token(client)}"}
    weak = client.put("/password", params={"password": "12345678"}, headers=auth)
    assert weak.status_code == 422
    assert "it must not be only digits" in weak.json()["problems"]
    assert client.get("/me", headers=auth).status_code == 200  # unchanged


def test_hashing_runs_in_a_worker_thread(make_app: Callable[..., App]) -> None:
    threads: list[int] = []

    class Spy(PasswordHasher):
        def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
            threads.append(threading.get_ident())
            return super().hash(password, salt=salt)

    set_password_hasher(Spy(time_cost=1, memory_cost=1024, parallelism=1))  # conftest restores
    app = make_app()
    loop_threads: list[int] = []

    @app.post("/users")
    async def add(request: Request, session: Session) -> None:
        loop_threads.append(threading.get_ident())
        auth = Auth.of(request.app)
        user = await auth.create_user(session, "newcomer", PASSWORD)
        await auth.set_password(user, "another long phrase", validate=False)

    with TestClient(app) as client:
        assert client.post("/users").is_success
    assert len(threads) >= 2 and loop_threads
    assert loop_threads[0] not in threads  # never on the event loop's thread
