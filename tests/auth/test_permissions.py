"""Permissions: requires() on routes, routers and Resources; groups; superusers; objects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from unittest.mock import ANY

import pytest
from pydantic import BaseModel, Field
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from auth.conftest import bearer, build_app, token_for
from prow import App, Depends, Form, Router
from prow.auth import (
    Auth,
    CurrentUser,
    create_permissions,
    has_perm,
    model_permissions,
    requires,
    resource_permissions,
)
from prow.db import Model, Resource, Session
from prow.testing import TestClient


class Article(Model):
    __tablename__ = "auth_test_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int] = mapped_column(ForeignKey("auth_user.id"))


class OwnerAuth(Auth):
    """Authors may change and delete their own articles, whatever their permissions."""

    def has_object_permission(self, user: Any, perm: str, obj: Any, granted: bool) -> bool:
        return granted or obj.author_id == user.id


async def _articles(session: Any) -> None:
    session.add_all([Article(title="by ann", author_id=1), Article(title="by bob", author_id=2)])


def _app(url: str, **options: Any) -> App:
    app = build_app(url, models=(Article,), populate=_articles, **options)

    @app.post("/articles/{pk}/edit", dependencies=[requires("auth_test_article.change")])
    async def edit(pk: int) -> str:
        return "edited"

    @app.get("/private", dependencies=[requires()])
    async def private() -> str:
        return "members only"

    @app.get("/can")
    async def can(user: CurrentUser, session: Session, perm: str) -> bool:
        return await has_perm(session, user, perm)

    admin = Router("/admin", dependencies=[requires("admin.enter", "admin.stay")])

    @admin.get("/panel")
    async def panel() -> str:
        return "panel"

    app.include(admin)
    return app


@pytest.fixture
def client(any_url: str) -> Iterator[TestClient]:
    with TestClient(_app(any_url)) as client:
        yield client


def test_anonymous_is_401_and_missing_permission_403(client: TestClient) -> None:
    assert client.post("/articles/1/edit").status_code == 401
    assert client.get("/private").status_code == 401
    bob = bearer(token_for(client, "bob"))
    refused = client.post("/articles/1/edit", headers=bob)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "permission required: auth_test_article.change"
    assert client.get("/private", headers=bob).json() == "members only"


def test_direct_and_group_permissions(client: TestClient) -> None:
    ann, bob = bearer(token_for(client, "ann")), bearer(token_for(client, "bob"))
    assert client.get("/can?perm=article.change", headers=ann).json() is True
    assert client.get("/can?perm=article.delete", headers=ann).json() is False
    assert client.get("/can?perm=article.delete", headers=bob).json() is True  # via "editors"
    assert client.get("/can?perm=article.change", headers=bob).json() is False


def test_a_superuser_has_every_permission(client: TestClient) -> None:
    boss = bearer(token_for(client, "boss"))
    assert client.post("/articles/1/edit", headers=boss).json() == "edited"
    assert client.get("/admin/panel", headers=boss).json() == "panel"
    assert client.get("/can?perm=anything.at.all", headers=boss).json() is True


def test_router_guards_name_every_missing_permission(client: TestClient) -> None:
    refused = client.get("/admin/panel", headers=bearer(token_for(client, "ann")))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "permission required: admin.enter, admin.stay"


def test_model_permissions_and_their_creation(sqlite_url: str) -> None:
    assert model_permissions(Article) == [
        "auth_test_article.view",
        "auth_test_article.add",
        "auth_test_article.change",
        "auth_test_article.delete",
    ]
    app = _app(sqlite_url)

    @app.post("/setup")
    async def setup(session: Session) -> list[str]:
        first = await create_permissions(session, Article)
        again = await create_permissions(session, Article)  # idempotent
        assert [p.id for p in first] == [p.id for p in again]
        return [p.name for p in first]

    with TestClient(app) as client:
        assert client.post("/setup").json()[0] == "Can view Article"


def _resource_app(url: str, *, object_level: bool) -> App:
    app = _app(url, auth_class=OwnerAuth if object_level else Auth)
    perms = resource_permissions(Article, object_level=object_level)
    app.include(Resource(Article, prefix="/res", permissions=perms))
    return app


def test_resource_actions_need_model_permissions(sqlite_url: str) -> None:
    with TestClient(_resource_app(sqlite_url, object_level=False)) as client:
        assert client.get("/res").status_code == 401
        ann = bearer(token_for(client, "ann"))
        refused = client.get("/res", headers=ann)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "permission required: auth_test_article.view"
        boss = bearer(token_for(client, "boss"))
        assert client.get("/res", headers=boss).json()["total"] == 2
        assert client.delete("/res/2", headers=boss).status_code == 204


def test_object_level_checks_let_authors_edit_their_own(sqlite_url: str) -> None:
    with TestClient(_resource_app(sqlite_url, object_level=True)) as client:
        assert client.patch("/res/1", json={"title": "x"}).status_code == 401
        ann = bearer(token_for(client, "ann"))  # holds article.change, not auth_test_article.*
        assert client.patch("/res/1", json={"title": "mine"}, headers=ann).status_code == 200
        refused = client.patch("/res/2", json={"title": "theirs"}, headers=ann)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "permission required: auth_test_article.change"
        assert client.get("/res", headers=ann).status_code == 403  # no row: model level
        assert client.delete("/res/1", headers=ann).status_code == 204
        boss = bearer(token_for(client, "boss"))
        assert client.patch("/res/2", json={"title": "ok"}, headers=boss).status_code == 200


class NoteIn(BaseModel):
    title: str = Field(max_length=20)


async def owned_note(note: NoteIn, user: CurrentUser) -> str:
    """Reads the body and the user: the user is still resolved before the body."""
    return f"{user.username}'s {note.title}"


def _notes_app(url: str) -> App:
    app = build_app(url)

    @app.post("/notes", dependencies=[requires("note.add")])
    async def add_note(note: NoteIn, copies: int = 1) -> str:
        return note.title * copies

    @app.post("/notes/form", dependencies=[requires("note.add")])
    async def add_note_form(title: Annotated[str, Form(max_length=20)]) -> str:
        return title

    @app.post("/my-notes")
    async def my_note(note: NoteIn, user: CurrentUser) -> str:
        return f"{user.username}: {note.title}"

    @app.post("/owned-notes")
    async def owned(note: Annotated[str, Depends(owned_note, use_cache=False)]) -> str:
        return note

    return app


SECRET_INPUT = "x" * 30 + "-do-not-echo"


def test_credentials_and_permissions_are_checked_before_validation(sqlite_url: str) -> None:
    with TestClient(_notes_app(sqlite_url)) as client:
        ann, boss = bearer(token_for(client, "ann")), bearer(token_for(client, "boss"))
        bad_json = {"json": {"title": SECRET_INPUT}}
        bad_form = {"data": {"title": SECRET_INPUT}}
        for path, bad, good in [
            ("/notes", bad_json, {"json": {"title": "hi"}}),
            ("/notes/form", bad_form, {"data": {"title": "hi"}}),
        ]:
            anonymous = client.post(path, **bad)  # type: ignore[arg-type]
            assert (anonymous.status_code, SECRET_INPUT in anonymous.text) == (401, False)
            assert anonymous.headers["www-authenticate"]
            refused = client.post(path, headers=ann, **bad)  # type: ignore[arg-type]
            assert (refused.status_code, SECRET_INPUT in refused.text) == (403, False)
            assert client.post(path, headers=boss, **bad).status_code == 422  # type: ignore[arg-type]
            assert client.post(path, headers=boss, **good).text == '"hi"'  # type: ignore[arg-type]
        # Neither a malformed body nor a bad query parameter is looked at before the 401.
        assert client.post("/notes", content=b"{not json").status_code == 401
        assert client.post("/notes?copies=many", json={"title": "hi"}).status_code == 401
        assert client.post("/notes?copies=many", headers=boss, json={}).json()["errors"] == [
            {"loc": ["query", "copies"], "msg": ANY, "type": "int_parsing", "input": "many"},
            {"loc": ["body", "title"], "msg": "Field required", "type": "missing"},
        ]


def test_current_user_is_resolved_before_the_body_is_validated(sqlite_url: str) -> None:
    with TestClient(_notes_app(sqlite_url)) as client:
        ann = bearer(token_for(client, "ann"))
        for path in ("/my-notes", "/owned-notes"):  # the user in the handler, or in a dependency
            anonymous = client.post(path, json={"title": SECRET_INPUT})
            assert (anonymous.status_code, SECRET_INPUT in anonymous.text) == (401, False)
            assert client.post(path, headers=ann, json={"title": SECRET_INPUT}).status_code == 422
        assert client.post("/my-notes", headers=ann, json={"title": "hi"}).text == '"ann: hi"'
        assert client.post("/owned-notes", headers=ann, json={"title": "a"}).text == '"ann\'s a"'
