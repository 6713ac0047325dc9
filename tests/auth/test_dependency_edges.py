"""Ordering rules are dependency edges: per-user limits and object permissions need no
hand-ordered dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auth.conftest import bearer, token_for
from prow import App
from prow.auth import CurrentUser, OptionalUser
from prow.ratelimit import rate_limit
from prow.testing import TestClient


def test_per_user_limit_counts_by_user_whatever_the_order(make_app: Callable[..., App]) -> None:
    app = make_app()
    per_user = rate_limit("2/minute", key="user")

    # The limiter is listed before anything that asks for the user: it still sees the user.
    @app.get("/limited", dependencies=[per_user])
    async def limited(user: OptionalUser) -> str:
        return "ok" if user is None else user.username

    with TestClient(app) as client:
        ann, bob = bearer(token_for(client, "ann")), bearer(token_for(client, "bob"))
        assert [client.get("/limited", headers=ann).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        # Counted per user, not per address: bob (same address) still has his budget.
        assert client.get("/limited", headers=bob).status_code == 200


def test_per_user_limit_as_the_only_dependency(make_app: Callable[..., App]) -> None:
    app = make_app()

    @app.get("/only", dependencies=[rate_limit("1/minute", key="user")])
    async def only() -> str:
        return "ok"

    with TestClient(app) as client:
        ann, bob = bearer(token_for(client, "ann")), bearer(token_for(client, "bob"))
        assert client.get("/only", headers=ann).status_code == 200
        assert client.get("/only", headers=ann).status_code == 429
        assert client.get("/only", headers=bob).status_code == 200


def test_the_user_found_for_the_limit_is_the_handlers(make_app: Callable[..., App]) -> None:
    app = make_app()

    @app.post("/rename", dependencies=[rate_limit("5/minute", key="user")])
    async def rename(user: CurrentUser) -> dict[str, Any]:
        user.email = "renamed@example.com"  # the handler's session commits it
        return {"email": user.email}

    @app.get("/me")
    async def me(user: CurrentUser) -> dict[str, Any]:
        return {"email": user.email}

    with TestClient(app) as client:
        ann = bearer(token_for(client, "ann"))
        assert client.post("/rename", headers=ann).json() == {"email": "renamed@example.com"}
        assert client.get("/me", headers=ann).json() == {"email": "renamed@example.com"}
