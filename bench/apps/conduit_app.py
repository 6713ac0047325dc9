# mypy: disable-error-code="import-not-found"
"""prow's RealWorld (Conduit) example (examples/conduit) as it ships, on its own database.

The realistic endpoints: the article list (a page of 20 with author profiles, tags, favorite
counts and the signed-in reader's favorited/following flags), one article by slug, and posting a
comment (a validated write with its foreign keys). The database is ``BENCH_PG_URL``'s server with
``_conduit`` appended to its name (SQLite: a file under ``bench/.work/``), migrated with the
example's own migrations and filled once: 10 users, 100 articles of 3 tags each, favorites,
follows. Every request is signed in as user 1: this module wraps the app to add its token.
``CONDUIT_DIR`` names another copy of the example (to measure an older version of its code).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from bench._db import SQLITE_FILE, async_url, backend

__all__ = ["SLUG", "app", "database_url"]

EXAMPLE = Path(os.environ.get("CONDUIT_DIR") or Path(__file__).parents[2] / "examples/conduit")
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))

USERS, ARTICLES = 10, 100
SLUG = "article-7"  # the article read and commented on


def database_url() -> URL:
    url = async_url()
    if backend() == "sqlite":
        return url.set(database=str(SQLITE_FILE.with_name("conduit.sqlite3")))
    return url.set(database=f"{url.database}_conduit")


async def _create_database(url: URL) -> None:
    if url.get_backend_name() == "sqlite":
        return
    server = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        await server.dispose()


async def _fill(url: URL) -> None:
    from conduit.models import Article, Tag, User, favorites, follows

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            if await connection.scalar(select(func.count()).select_from(Article)) == ARTICLES:
                return
            await connection.execute(User.__table__.delete())
            users = [
                {
                    "id": n,
                    "username": f"user{n}",
                    "username_key": f"user{n}",
                    "email": f"user{n}@example.com",
                    "password": "!",  # unusable: nobody logs in, the token is made here
                    "bio": f"I am user {n}",
                    "is_active": True,
                    "is_staff": False,
                    "is_superuser": False,
                }
                for n in range(1, USERS + 1)
            ]
            await connection.execute(insert(User), users)
            articles = [
                {
                    "id": n,
                    "slug": f"article-{n}",
                    "title": f"Article {n}",
                    "description": f"What article {n} is about",
                    "body": f"Article {n}, at length. " * 20,
                    "author_id": n % USERS + 1,
                }
                for n in range(1, ARTICLES + 1)
            ]
            await connection.execute(insert(Article), articles)
            tags = [
                {"name": f"tag{(n + k) % 12}", "article_id": n}
                for n in range(1, ARTICLES + 1)
                for k in range(3)
            ]
            await connection.execute(insert(Tag), tags)
            liked = [
                {"user_id": u, "article_id": n}
                for n in range(1, ARTICLES + 1)
                for u in range(1, USERS + 1)
                if (n + u) % 3 == 0
            ]
            await connection.execute(insert(favorites), liked)
            followed = [{"follower_id": 1, "followed_id": n} for n in range(2, 6)]
            await connection.execute(insert(follows), followed)
            if url.get_backend_name() == "postgresql":  # ids given above: move the sequences
                for table in ("users", "article", "tag"):
                    await connection.execute(
                        text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                    )
    finally:
        await engine.dispose()


def _prepare() -> str:
    from prow.db import migrate

    url = database_url()
    if url.get_backend_name() == "sqlite":
        SQLITE_FILE.parent.mkdir(exist_ok=True)
    asyncio.run(_create_database(url))
    rendered = url.render_as_string(hide_password=False)
    migrate(url=rendered, directory=EXAMPLE / "migrations")
    asyncio.run(_fill(url))
    return rendered


from conduit.app import create_app  # noqa: E402
from conduit.models import User  # noqa: E402

from prow.settings import Settings  # noqa: E402

# Settings given, not put in os.environ: importing the bench app changes nothing for others.
_SECRET = os.environ.get("PROW_SECRET_KEY") or "bench-conduit-" + "s" * 40
conduit = create_app(Settings(database_url=_prepare(), secret_key=_SECRET, debug=False))

from prow.auth import Auth  # noqa: E402

_reader = User(id=1, username="user1", email="user1@example.com", password="!", is_active=True)
_token: list[bytes] = []  # made once the app is set up (its Auth signs it)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The Conduit, every request signed in as user 1."""
    if scope["type"] == "http":
        if not _token:
            _token.append(f"Token {Auth.of(conduit).create_access_token(_reader)}".encode())
        scope["headers"] = [*scope["headers"], (b"authorization", _token[0])]
    await conduit(scope, receive, send)
