"""The app of ``bench/scaling.py``: one endpoint per kind of shared state a request touches.

Every worker shares PostgreSQL and Redis (``SCALING_DATABASE_URL``, ``SCALING_REDIS_URL``),
as a multi-worker deployment does; each endpoint makes a known number of round trips.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import text

from prow import App, PlainTextResponse, Request
from prow.channels import Channels
from prow.db import Database, DBSession
from prow.ratelimit import RateLimits, RedisRateLimitStore, rate_limit
from prow.sessions import RedisSessionStore, Sessions

REDIS_URL = os.environ.get("SCALING_REDIS_URL", "redis://127.0.0.1:6379/6")
DATABASE_URL = os.environ.get(
    "SCALING_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test_channels"
)

app = App(
    secret_key=os.environ.get("PROW_SECRET_KEY", "scaling-bench-key-not-secret-4f8a1c9e2b7d"),
    allowed_hosts=["127.0.0.1"],
    extensions=[
        Database(DATABASE_URL),
        Sessions(RedisSessionStore(REDIS_URL)),
        RateLimits(RedisRateLimitStore(REDIS_URL)),
        Channels(REDIS_URL),
    ],
)


@app.get("/plaintext")
async def plaintext() -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


@app.post("/login")
async def login(request: Request) -> str:
    request.session["user"] = "bench"
    return "ok"


@app.get("/session")
async def session(request: Request) -> str:
    return str(request.session.get("user"))


@app.get("/limited", dependencies=[rate_limit("1000000000/minute", key=lambda r: "bench")])
async def limited() -> str:
    return "ok"


@app.post("/publish")
async def publish(channels: Channels) -> str:
    await channels.publish("bench", {"n": 1})
    return "ok"


@app.get("/db")
async def db(session: DBSession) -> Any:
    return await session.scalar(text("SELECT 1"))
