"""API keys: made once and shown once, stored hashed, used by header, revoked, last_used."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from auth.conftest import bearer, build_app, token_for
from prow import App
from prow.auth import APIKey, Auth, CurrentUser, hash_api_key, revoke_api_key
from prow.db import Session
from prow.testing import TestClient


def _app(url: str) -> App:
    app = build_app(url)

    @app.get("/whoami")
    async def whoami(user: CurrentUser) -> str:
        return user.username

    @app.post("/keys", status_code=201)
    async def make_key(user: CurrentUser, session: Session, days: int | None = None) -> str:
        expires = None
        if days is not None:
            expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days)
        _, key = await Auth.of(app).create_api_key(session, user, name="ci", expires=expires)
        return key

    @app.get("/keys")
    async def keys(session: Session) -> list[dict[str, Any]]:
        rows = await session.scalars(select(APIKey).order_by(APIKey.id))
        return [
            {"prefix": r.prefix, "hash": r.key_hash, "used": r.last_used is not None} for r in rows
        ]

    @app.post("/keys/{prefix}/revoke")
    async def revoke(prefix: str, session: Session) -> None:
        row = (await session.scalars(select(APIKey).where(APIKey.prefix == prefix))).one()
        await revoke_api_key(session, row)

    return app


@pytest.fixture
def client(any_url: str) -> Iterator[TestClient]:
    with TestClient(_app(any_url)) as client:
        yield client


def _new_key(client: TestClient, **params: Any) -> str:
    made = client.post("/keys", headers=bearer(token_for(client, "bob")), params=params)
    assert made.status_code == 201
    key: str = made.json()
    return key


def test_a_key_is_stored_only_as_its_hash(client: TestClient) -> None:
    key = _new_key(client)
    assert key.startswith("prow_")
    (stored,) = client.get("/keys").json()
    assert stored["hash"] == hash_api_key(key) and key not in stored["hash"]
    assert key.split("_")[1] == stored["prefix"]


def test_both_headers_authenticate_and_record_last_used(client: TestClient) -> None:
    key = _new_key(client)
    assert client.get("/keys").json()[0]["used"] is False
    assert client.get("/whoami", headers={"X-API-Key": key}).json() == "bob"
    assert client.get("/whoami", headers={"Authorization": f"Api-Key {key}"}).json() == "bob"
    assert client.get("/keys").json()[0]["used"] is True


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key[:-1] + ("A" if key[-1] != "A" else "B"),  # wrong secret
        lambda key: "prow_00000000_" + key.split("_", 2)[2],  # unknown prefix
        lambda key: "not a key",
        lambda key: "prow__",
    ],
)
def test_wrong_keys_are_401(client: TestClient, mangle: Any) -> None:
    answer = client.get("/whoami", headers={"X-API-Key": mangle(_new_key(client))})
    assert answer.status_code == 401
    assert answer.json()["detail"] == "invalid API key (unknown, revoked or expired)"
    assert answer.headers["www-authenticate"].startswith("Api-Key")


def test_a_revoked_key_is_refused(client: TestClient) -> None:
    key = _new_key(client)
    assert client.get("/whoami", headers={"X-API-Key": key}).status_code == 200
    client.post(f"/keys/{key.split('_')[1]}/revoke")
    assert client.get("/whoami", headers={"X-API-Key": key}).status_code == 401


def test_an_expired_key_is_refused(client: TestClient) -> None:
    key = _new_key(client, days=-1)
    assert client.get("/whoami", headers={"X-API-Key": key}).status_code == 401


def test_api_key_requests_skip_the_csrf_check(client: TestClient) -> None:
    key = _new_key(client)
    client.cookies.set("csrftoken", "whatever")
    answer = client.post("/keys", headers={"X-API-Key": key})
    assert answer.status_code == 201
