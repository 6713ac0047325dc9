"""Passwords: argon2id hashes, verification, rehash at login, strength rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from auth.conftest import PASSWORD
from prow import App
from prow.auth import (
    Auth,
    PasswordError,
    User,
    hash_password,
    needs_rehash,
    password_problems,
    set_password_hasher,
    validate_password,
    verify_password,
)
from prow.db import Session
from prow.testing import TestClient


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first, second = hash_password("s3cret-phrase"), hash_password("s3cret-phrase")
    assert first.startswith("$argon2id$")
    assert first != second  # a salt per hash
    assert verify_password("s3cret-phrase", first)
    assert not verify_password("s3cret-phrasE", first)


@pytest.mark.parametrize("stored", ["", None, "not-a-hash", "$argon2id$v=19$broken"])
def test_verify_refuses_missing_or_malformed_hashes(stored: str | None) -> None:
    assert verify_password("anything at all", stored) is False


def test_default_parameters_are_strong() -> None:
    cheap = set_password_hasher(None)  # prow's default, not the tests' cheap one
    hasher = set_password_hasher(cheap)
    assert hasher.type.name == "ID"
    assert hasher.memory_cost >= 64 * 1024 and hasher.time_cost >= 2


def test_a_hash_made_with_other_parameters_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash("phrase")
    assert needs_rehash(weak)
    assert not needs_rehash(hash_password("phrase"))
    assert needs_rehash("garbage")


@pytest.mark.parametrize(
    ("password", "username", "problem"),
    [
        ("short1", "", "at least 8 characters"),
        ("1234567890123", "", "only digits"),
        ("password123", "", "commonly used"),
        ("Qwertyuiop", "", "commonly used"),
        ("annabelle-2024", "annabelle", "too similar to the username"),
        ("margaret99", "margaret", "too similar to the username"),
    ],
)
def test_weak_passwords_are_named(password: str, username: str, problem: str) -> None:
    """Each rule names itself (see also the passphrase test below)."""
    with pytest.raises(PasswordError) as info:
        validate_password(password, username=username)
    assert any(problem in text for text in info.value.problems)


def test_every_problem_is_listed_at_once() -> None:
    assert password_problems("1234", username="") == [
        "it must have at least 8 characters",
        "it must not be only digits",
    ]
    assert password_problems("correct horse battery", username="ann") == []


def test_a_weak_password_answers_422_listing_the_problems(
    make_app: Callable[..., App],
) -> None:
    app = make_app()

    @app.post("/signup", status_code=201)
    async def signup(username: str, password: str, session: Session) -> dict[str, Any]:
        user = await Auth.of(app).create_user(session, username, password)
        return {"id": user.id}

    with TestClient(app) as client:
        weak = client.post("/signup", params={"username": "carol", "password": "carol123"})
        assert weak.status_code == 422
        body = weak.json()
        assert body["title"] == "Weak password"
        assert body["problems"] == ["it is too similar to the username"]
        assert "too similar to the username" in body["detail"]
        good = client.post("/signup", params={"username": "carol", "password": PASSWORD})
        assert good.status_code == 201


def test_login_replaces_an_outdated_hash(make_app: Callable[..., App]) -> None:
    app = make_app()
    old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)

    async def ann(session: Any) -> Any:
        return (await session.scalars(select(User).where(User.username == "ann"))).one()

    @app.post("/outdate")
    async def outdate(session: Session) -> None:
        (await ann(session)).password = old

    @app.get("/hash")
    async def current_hash(session: Session) -> str:
        return str((await ann(session)).password)

    with TestClient(app) as client:
        client.post("/outdate")
        assert client.get("/hash").json() == old
        answer = client.post("/auth/token", data={"username": "ann", "password": PASSWORD})
        assert answer.status_code == 200
        new = client.get("/hash").json()
        assert new != old and not needs_rehash(new) and verify_password(PASSWORD, new)


@pytest.mark.parametrize(
    ("password", "username"),
    [("a long admin phrase for tests 42", "admin"), ("alice likes green tea", "alice")],
)
def test_a_passphrase_may_contain_the_username(password: str, username: str) -> None:
    validate_password(password, username=username)  # what is left is a password on its own
