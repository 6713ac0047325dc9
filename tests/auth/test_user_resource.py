"""Resource(User): password hashes are never served nor written, privileges are read-only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from auth.conftest import PASSWORD, bearer, build_app, token_for
from prow import App, ConfigurationError
from prow.auth import APIKey, User, grant, resource_permissions
from prow.db import Resource, Session, schema_for
from prow.testing import TestClient


async def _helpdesk(session: Any) -> None:
    ann = (await session.scalars(select(User).where(User.username == "ann"))).one()
    await grant(session, ann, "auth_user.view", "auth_user.change", "auth_user.add")


def _app(url: str, **options: Any) -> App:
    app = build_app(url, populate=_helpdesk)
    permissions = resource_permissions(User)
    app.include(Resource(User, prefix="/users", permissions=permissions, **options))

    @app.get("/stored-hash/{username}")
    async def stored_hash(username: str, session: Session) -> str:
        query = select(User.password).where(User.username == username)
        return (await session.scalars(query)).one()

    return app


def test_the_list_and_a_row_show_no_password_hash(sqlite_url: str) -> None:
    with TestClient(_app(sqlite_url)) as client:
        ann = bearer(token_for(client, "ann"))
        items = client.get("/users", headers=ann).json()["items"]
        assert [item["username"] for item in items] == ["ann", "bob", "boss", "zed"]
        assert all("password" not in item for item in items)
        assert items[2]["is_superuser"] is True  # read-only fields are still shown
        assert "password" not in client.get("/users/1", headers=ann).json()
        refused = client.get("/users/1?fields=username,password", headers=ann)
        assert refused.status_code == 400
        assert "password" in refused.json()["detail"]


def test_a_patch_cannot_grant_privileges(sqlite_url: str) -> None:
    with TestClient(_app(sqlite_url)) as client:
        ann = bearer(token_for(client, "ann"))
        for field, value in (("is_superuser", True), ("is_staff", True), ("last_login", None)):
            refused = client.patch("/users/1", json={field: value}, headers=ann)
            assert refused.status_code == 422, field
            assert field in refused.text and "Extra inputs are not permitted" in refused.text
        replaced = client.put(
            "/users/1", json={"username": "ann", "is_superuser": True}, headers=ann
        )
        assert replaced.status_code == 422
        assert client.get("/users/1", headers=ann).json()["is_superuser"] is False
        # Fields that are not guarded stay writable.
        changed = client.patch("/users/2", json={"email": "bob@example.com"}, headers=ann)
        assert changed.status_code == 200 and changed.json()["email"] == "bob@example.com"
        assert client.patch("/users/4", json={"is_active": True}, headers=ann).status_code == 200


def test_a_patch_cannot_write_the_password_column(sqlite_url: str) -> None:
    with TestClient(_app(sqlite_url)) as client:
        ann = bearer(token_for(client, "ann"))
        refused = client.patch("/users/2", json={"password": "x"}, headers=ann)
        assert refused.status_code == 422 and "password" in refused.text
        created = client.post("/users", json={"username": "eve", "password": "x"}, headers=ann)
        assert created.status_code == 422
        assert client.post("/users", json={"username": "eve"}, headers=ann).status_code == 201
        assert client.get("/stored-hash/bob").json().startswith("$argon2id$")
        assert client.get("/stored-hash/eve").json() == ""  # no password login
        token_for(client, "bob", PASSWORD)  # bob's password still works


def test_sensitive_columns_cannot_be_filtered_or_ordered_on(sqlite_url: str) -> None:
    for option in ("filter_fields", "order_fields", "search_fields"):
        with pytest.raises(ConfigurationError) as caught:
            _app(sqlite_url, **{option: ["password"]})
        assert caught.value.code == "prow.E511"
        assert "'password', a sensitive column of User" in str(caught.value)
    with pytest.raises(ConfigurationError, match="sensitive column of APIKey"):
        Resource(APIKey, filter_fields=["key_hash"])


def test_loaded_relationships_keep_the_password_out(sqlite_url: str) -> None:
    with TestClient(_app(sqlite_url, load=["groups"])) as client:
        bob = client.get("/users/2", headers=bearer(token_for(client, "ann"))).json()
        assert "password" not in bob
        assert [group["name"] for group in bob["groups"]] == ["editors"]


def test_the_auth_models_guard_their_columns() -> None:
    assert "password" not in schema_for(User, mode="read").model_fields
    assert "key_hash" not in schema_for(APIKey, mode="read").model_fields
    writable = set(schema_for(User, mode="update").model_fields)
    assert writable == {"username", "email", "is_active"}
    assert set(schema_for(APIKey, mode="create").model_fields) == {
        "name",
        "prefix",
        "expires",
        "revoked",
        "user_id",
    }
    # Naming a guarded field is the one way to expose it.
    admin = schema_for(User, mode="update", include=["is_superuser", "password"])
    assert set(admin.model_fields) == {"is_superuser", "password"}
