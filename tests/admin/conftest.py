"""Fixtures of the admin tests (the models and helpers live in ``_shop``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import make_url

from _services import require
from admin._shop import POSTGRES_URL, build
from prow.auth import set_password_hasher
from prow.testing import TestClient


@pytest.fixture(autouse=True)
def fast_hashing() -> Iterator[None]:
    previous = set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    set_password_hasher(previous)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'admin.sqlite3'}"
    parsed = make_url(POSTGRES_URL)
    require("PostgreSQL", parsed.host or "127.0.0.1", parsed.port or 5432)
    return POSTGRES_URL


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    with TestClient(build(url)) as test_client:
        yield test_client
