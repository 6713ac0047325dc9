"""Cheap password hashing for the account pages' tests (the real parameters are tested in auth)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from prow.auth import set_password_hasher


@pytest.fixture(autouse=True)
def fast_hashing() -> Iterator[None]:
    previous = set_password_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    set_password_hasher(previous)
