# mypy: disable-error-code="import-not-found"
"""What every RealWorld (Conduit) app shares: the database, its rows, the reader's token, and
the answers the benchmark expects.

Every app reads and writes the same database: prow's Conduit example's (``examples/conduit``),
on ``BENCH_PG_URL``'s server under its name + ``_conduit`` (SQLite: a file under
``bench/.work/``), migrated with the example's own migrations and filled once (``prepare``):
10 users, 100 articles of 3 tags each, favorites, follows. Each peer maps its own models onto
those tables (``users``, ``article``, ``tag``, ``favorite``, ``follow``, ``comment``).

Every request is signed in as user 1 with the token ``AUTHORIZATION`` carries: a JWT (HS256)
that prow's ``Auth`` would issue, signed with the key prow derives from the Conduit's secret key
(``App.signing_key("jwt")``: HMAC-SHA256 of the secret and ``prow:jwt``). The peers verify it with
PyJWT and the same key (``reader_id``), then load the reader as their framework does.
``CONDUIT_DIR`` names another copy of the example (to measure an older version of its code).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import os
import secrets
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from bench._db import SQLITE_FILE, async_url, backend, sync_url

__all__ = [
    "ARTICLES",
    "AUTHORIZATION",
    "EXAMPLE",
    "JWT_KEY",
    "SECRET",
    "SLUG",
    "USERS",
    "TokenError",
    "database_url",
    "expected_article",
    "expected_profile",
    "prepare",
    "reader_id",
    "sync_database_url",
]

EXAMPLE = Path(os.environ.get("CONDUIT_DIR") or Path(__file__).parents[2] / "examples/conduit")
USERS, ARTICLES = 10, 100
SLUG = "article-7"  # the article read and commented on
PAGE = 20
SECRET = os.environ.get("PROW_SECRET_KEY") or "bench-conduit-" + "s" * 40
#: The key prow's Auth signs its tokens with (``App.signing_key("jwt")``), so every app
#: verifies the same token.
JWT_KEY = hmac.new(SECRET.encode(), b"prow:jwt", hashlib.sha256).digest()
_UNUSABLE = "!"  # user 1's password hash: nobody logs in, the token is made here


def _token() -> str:
    # The claims the Conduit's Auth writes (prow/auth/_tokens.py; its password fingerprint is
    # empty: examples/conduit/conduit/app.py); the peers read "sub" and "exp".
    now = datetime.datetime.now(datetime.UTC)
    claims = {
        "sub": "1",
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + datetime.timedelta(hours=2),
        "jti": secrets.token_urlsafe(12),
        "pwd": "",
    }
    return jwt.encode(claims, JWT_KEY, algorithm="HS256")


#: The ``Authorization`` header of every request (the RealWorld spec's ``Token`` scheme).
AUTHORIZATION = f"Token {_token()}"


class TokenError(Exception):
    """No token, or one that is not valid: the request is answered 401."""


def reader_id(authorization: str | None) -> int:
    """The user id an ``Authorization: Token <jwt>`` header names; ``TokenError`` otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme != "Token" or not token:
        raise TokenError("no token: send Authorization: Token <jwt>")
    try:
        claims = jwt.decode(
            token, JWT_KEY, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except (jwt.InvalidTokenError, ValueError):
        raise TokenError("invalid token") from None


# -- the database --------------------------------------------------------------------------


def database_url(which: str | None = None) -> URL:
    """The asyncio-driver URL of the Conduit's database (``which``: sqlite or postgresql)."""
    url = async_url(which)
    if (which or backend()) == "sqlite":
        return url.set(database=str(SQLITE_FILE.with_name("conduit.sqlite3")))
    return url.set(database=f"{url.database}_conduit")


def sync_database_url(which: str | None = None) -> URL:
    """The blocking-driver URL (sqlite3, psycopg) of the same database, for Flask and Django."""
    return sync_url(which).set(database=database_url(which).database)


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


def _users() -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "username": f"user{n}",
            "username_key": f"user{n}",
            "email": f"user{n}@example.com",
            "password": _UNUSABLE,
            "bio": f"I am user {n}",
            "is_active": True,
            "is_staff": False,
            "is_superuser": False,
        }
        for n in range(1, USERS + 1)
    ]


def _author(article: int) -> int:
    return article % USERS + 1


def _tags(article: int) -> list[str]:
    return [f"tag{(article + k) % 12}" for k in range(3)]


def _favorited_by(article: int) -> list[int]:
    return [user for user in range(1, USERS + 1) if (article + user) % 3 == 0]


FOLLOWED_BY_1 = range(2, 6)


async def _fill(url: URL) -> None:
    from conduit.models import Article, Tag, User, favorites, follows

    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            if await connection.scalar(select(func.count()).select_from(Article)) == ARTICLES:
                return
            await connection.execute(User.__table__.delete())
            await connection.execute(insert(User), _users())
            articles = [
                {
                    "id": n,
                    "slug": f"article-{n}",
                    "title": f"Article {n}",
                    "description": f"What article {n} is about",
                    "body": f"Article {n}, at length. " * 20,
                    "author_id": _author(n),
                }
                for n in range(1, ARTICLES + 1)
            ]
            await connection.execute(insert(Article), articles)
            tags = [
                {"name": name, "article_id": n} for n in range(1, ARTICLES + 1) for name in _tags(n)
            ]
            await connection.execute(insert(Tag), tags)
            liked = [
                {"user_id": user, "article_id": n}
                for n in range(1, ARTICLES + 1)
                for user in _favorited_by(n)
            ]
            await connection.execute(insert(favorites), liked)
            followed = [{"follower_id": 1, "followed_id": n} for n in FOLLOWED_BY_1]
            await connection.execute(insert(follows), followed)
            if url.get_backend_name() == "postgresql":  # ids given above: move the sequences
                for table in ("users", "article", "tag"):
                    await connection.execute(
                        text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                    )
    finally:
        await engine.dispose()


def prepare(which: str | None = None) -> str:
    """Create, migrate (the example's migrations) and fill the database once; its URL.

    ``which`` is ``sqlite`` or ``postgresql``; by default ``$BENCH_DB``'s (``bench/_db.py``).
    """
    return _prepare(which or backend())


@cache
def _prepare(which: str) -> str:
    from prow.db import migrate

    if str(EXAMPLE) not in sys.path:
        sys.path.insert(0, str(EXAMPLE))
    url = database_url(which)
    if url.get_backend_name() == "sqlite":
        SQLITE_FILE.parent.mkdir(exist_ok=True)
    asyncio.run(_create_database(url))
    rendered = url.render_as_string(hide_password=False)
    migrate(url=rendered, directory=EXAMPLE / "migrations")
    asyncio.run(_fill(url))
    return rendered


# -- the answers ---------------------------------------------------------------------------


def expected_profile(user: int, reader: int = 1) -> dict[str, Any]:
    """User ``user``'s profile as ``reader`` (user 1, who follows users 2-5) sees it."""
    following = reader == 1 and user in FOLLOWED_BY_1
    return {
        "username": f"user{user}",
        "bio": f"I am user {user}",
        "image": None,
        "following": following,
    }


def expected_article(n: int, *, body: bool) -> dict[str, Any]:
    """Article ``n`` as user 1 reads it, without its timestamps (checked apart); lists leave
    the body out (the spec, since 2024)."""
    article = {
        "slug": f"article-{n}",
        "title": f"Article {n}",
        "description": f"What article {n} is about",
        "tagList": _tags(n),
        "favorited": 1 in _favorited_by(n),
        "favoritesCount": len(_favorited_by(n)),
        "author": expected_profile(_author(n)),
    }
    if body:
        article["body"] = f"Article {n}, at length. " * 20
    return article
