"""The app every worker of the multi-worker bed serves: state only in PostgreSQL and Redis.

Configured from the environment the bed sets: ``BED_DATABASE_URL``, ``BED_REDIS_URL``,
``PROW_SECRET_KEY``. Each route exercises one thing a worker must share with the others.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, Request, WebSocket
from prow.cache import Cache, CachePolicy, Invalidates
from prow.channels import Channels
from prow.db import Database, DBSession, Model
from prow.ratelimit import RateLimits, RedisRateLimitStore, rate_limit
from prow.responses import EventSourceResponse
from prow.sessions import RedisSessionStore, Sessions

REDIS_URL = os.environ["BED_REDIS_URL"]


class Write(Model):
    __tablename__ = "bed_writes"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(unique=True)


class Login(BaseModel):
    name: str


app = App(
    secret_key=os.environ["PROW_SECRET_KEY"],
    allowed_hosts=["127.0.0.1"],
    extensions=[
        Database(os.environ["BED_DATABASE_URL"], pool_size=2, max_overflow=2),
        Sessions(RedisSessionStore(REDIS_URL, timeout=1.0)),
        RateLimits(RedisRateLimitStore(REDIS_URL)),
        Channels(REDIS_URL, timeout=1.0),
        Cache(REDIS_URL, namespace="bed"),
    ],
)


@app.get("/pid")
async def pid() -> int:
    return os.getpid()


@app.post("/login")
async def login(body: Login, request: Request) -> dict[str, str]:
    request.session["name"] = body.name
    return {"name": body.name}


@app.get("/me")
async def me(request: Request) -> dict[str, Any]:
    return {"name": request.session.get("name"), "pid": os.getpid()}


@app.get("/limited", dependencies=[rate_limit("5/minute")])
async def limited() -> int:
    return os.getpid()


@app.post("/rooms/{room}", status_code=202)
async def say(room: str, message: dict[str, Any], channels: Channels) -> dict[str, str]:
    sent = await channels.publish(f"room:{room}", {**message, "via": os.getpid()})
    return {"id": sent.id}


@app.get("/rooms/{room}/events")
async def events(room: str, request: Request, channels: Channels) -> EventSourceResponse:
    return await channels.sse(request, f"room:{room}", ping_interval=None)


@app.websocket("/rooms/{room}/ws")
async def room_socket(room: str, websocket: WebSocket, channels: Channels) -> None:
    await channels.relay(websocket, f"room:{room}")


@app.get("/report", cache=CachePolicy(60, tags=("report",)))
async def report(cache: Cache) -> dict[str, int]:
    # Which worker computed it, and how many times any worker did.
    return {"computed_by": os.getpid(), "computations": await cache.incr("computations")}


@app.post("/report/refresh", cache=Invalidates("report"))
async def refresh() -> dict[str, bool]:
    return {"invalidated": True}


@app.post("/writes/{key}", status_code=201)
async def write(key: str, db: DBSession) -> dict[str, str]:
    db.add(Write(key=key))
    return {"key": key}  # committed before this answer is sent


@app.get("/writes")
async def writes(db: DBSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(Write)) or 0)
