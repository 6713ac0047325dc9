"""The RealWorld endpoints at the limit: a bare ASGI app, SQLAlchemy core statements built
once, no framework, no ORM.

The list is one statement (author joined, favorites counted, the reader's flags and the total
as columns: ``count(*) OVER ()``) plus one for the page's tags; an article is one statement plus
its tags; a comment is one ``INSERT ... SELECT ... RETURNING`` that finds the article by slug and
the reader in the same round trip (autocommit: no ``BEGIN``/``ROLLBACK`` around them). The token
is verified with PyJWT (``_realworld.reader_id``); the body with pydantic.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    bindparam,
    exists,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import create_async_engine

from bench.apps import _realworld as rw

_meta = MetaData()
users = Table(
    "users",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("username", Text),
    Column("bio", Text),
    Column("image", Text),
    Column("is_active", Boolean),
)
article = Table(
    "article",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("slug", Text),
    Column("title", Text),
    Column("description", Text),
    Column("body", Text),
    Column("author_id", ForeignKey("users.id")),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)
tag = Table(
    "tag",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("name", Text),
    Column("article_id", Integer),
)
favorite = Table("favorite", _meta, Column("user_id", Integer), Column("article_id", Integer))
follow = Table("follow", _meta, Column("follower_id", Integer), Column("followed_id", Integer))
comment = Table(
    "comment",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("body", Text),
    Column("article_id", Integer),
    Column("author_id", Integer),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

ME = bindparam("me", type_=Integer)
_a, _u = article.c, users.c
_FOLLOWING = exists().where(follow.c.follower_id == ME, follow.c.followed_id == _u.id)
_SUMMARY = (
    _a.id,
    _a.slug,
    _a.title,
    _a.description,
    _a.created_at,
    _a.updated_at,
    exists().where(favorite.c.article_id == _a.id, favorite.c.user_id == ME).label("favorited"),
    select(func.count())
    .where(favorite.c.article_id == _a.id)
    .scalar_subquery()
    .label("favorites_count"),
    _u.username,
    _u.bio,
    _u.image,
    _FOLLOWING.label("following"),
)
_NEWEST = (_a.created_at.desc(), _a.id.desc())
PAGE = (
    select(*_SUMMARY, func.count().over().label("total"))
    .join_from(article, users, _a.author_id == _u.id)
    .order_by(*_NEWEST)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
COUNT = select(func.count()).select_from(article)
ONE = (
    select(*_SUMMARY, _a.body)
    .join_from(article, users, _a.author_id == _u.id)
    .where(_a.slug == bindparam("slug"))
)
TAGS = (
    select(tag.c.article_id, tag.c.name)
    .where(tag.c.article_id.in_(bindparam("ids", expanding=True)))
    .order_by(tag.c.id)
)
_AT = bindparam("at", type_=DateTime(timezone=True))
ADD_COMMENT = insert(comment).from_select(
    ["body", "article_id", "author_id", "created_at", "updated_at"],
    select(bindparam("body", type_=Text), _a.id, _u.id, _AT, _AT)
    .select_from(article)
    .join(users, _u.id == ME)
    .where(_a.slug == bindparam("slug"), _u.is_active),
)
ADDED = ADD_COMMENT.returning(comment.c.id, comment.c.created_at, comment.c.updated_at)
READER = select(_u.username, _u.bio, _u.image).where(_u.id == ME)

# Every statement is its own transaction: no BEGIN/ROLLBACK round trips around a read, and the
# comment is one INSERT (atomic by itself).
_engine = create_async_engine(rw.database_url(), isolation_level="AUTOCOMMIT")
_JSON = [(b"content-type", b"application/json")]


class NewComment(BaseModel):
    body: str = Field(min_length=1)


class CommentIn(BaseModel):
    comment: NewComment


def _time(value: datetime.datetime) -> str:
    utc = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)  # SQLite drops it
    return utc.isoformat()


def _article(row: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "tagList": tags,
        "createdAt": _time(row.created_at),
        "updatedAt": _time(row.updated_at),
        "favorited": bool(row.favorited),
        "favoritesCount": row.favorites_count,
        "author": {
            "username": row.username,
            "bio": row.bio,
            "image": row.image,
            "following": bool(row.following),
        },
    }


async def _answer(send: Any, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    headers = [*_JSON, (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _error(send: Any, status: int, field: str, message: str) -> None:
    await _answer(send, status, {"errors": {field: [message]}})


async def _tags(connection: Any, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {article_id: [] for article_id in ids}
    for article_id, name in await connection.execute(TAGS, {"ids": ids}):
        found[article_id].append(name)
    return found


def _query_int(scope: dict[str, Any], name: str, default: int) -> int:
    for pair in scope["query_string"].decode("latin-1").split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return int(value)
    return default


async def _list(scope: dict[str, Any], send: Any, me: int | None) -> None:
    try:
        limit, offset = _query_int(scope, "limit", 20), _query_int(scope, "offset", 0)
    except ValueError:
        limit = offset = -1
    if not (1 <= limit <= 100 and 0 <= offset < 2**31):
        await _error(send, 422, "limit", "limit 1-100, offset 0 or more")
        return
    async with _engine.connect() as connection:
        rows = (await connection.execute(PAGE, {"me": me, "limit": limit, "offset": offset})).all()
        total = rows[0].total if rows else await connection.scalar(COUNT)
        tags = await _tags(connection, [row.id for row in rows])
    articles = [_article(row, tags[row.id]) for row in rows]
    await _answer(send, 200, {"articles": articles, "articlesCount": total})


async def _one(send: Any, slug: str, me: int | None) -> None:
    async with _engine.connect() as connection:
        row = (await connection.execute(ONE, {"me": me, "slug": slug})).first()
        if row is None:
            await _error(send, 404, "article", "not found")
            return
        tags = await _tags(connection, [row.id])
    await _answer(send, 200, {"article": {**_article(row, tags[row.id]), "body": row.body}})


async def _read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _comment(receive: Any, send: Any, slug: str, me: int) -> None:
    try:
        new = CommentIn.model_validate_json(await _read_body(receive)).comment
    except ValidationError:
        await _error(send, 422, "body", "can't be blank")
        return
    values = {"body": new.body, "slug": slug, "me": me, "at": datetime.datetime.now(datetime.UTC)}
    async with _engine.connect() as connection:
        added = (await connection.execute(ADDED, values)).first()
        reader = added and (await connection.execute(READER, {"me": me})).first()
    if added is None or reader is None:
        await _error(send, 404, "article", "not found")
        return
    author = {"username": reader.username, "bio": reader.bio, "image": reader.image}
    body = {
        "id": added.id,
        "createdAt": _time(added.created_at),
        "updatedAt": _time(added.updated_at),
        "body": new.body,
        "author": {**author, "following": False},  # nobody follows themselves
    }
    await _answer(send, 201, {"comment": body})


def _authorization(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return str(value.decode("latin-1"))
    return None


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        kind = message["type"].rsplit(".", 1)[-1]
        if kind == "shutdown":
            await _engine.dispose()  # pooled connections belong to this event loop
        await send({"type": f"lifespan.{kind}.complete"})
        if kind == "shutdown":
            return


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    header = _authorization(scope)
    try:
        me = rw.reader_id(header) if header else None
    except rw.TokenError as exc:
        await _error(send, 401, "token", str(exc))
        return
    path, method = scope["path"], scope["method"]
    parts = path.split("/")  # "", "api", "articles", slug, "comments"
    if len(parts) < 3 or parts[1] != "api" or parts[2] != "articles":
        await _error(send, 404, "path", "not found")
    elif method == "GET" and len(parts) == 3:
        await _list(scope, send, me)
    elif method == "GET" and len(parts) == 4:
        await _one(send, parts[3], me)
    elif method == "POST" and len(parts) == 5 and parts[4] == "comments":
        if me is None:
            await _error(send, 401, "token", "no token: send Authorization: Token <jwt>")
        else:
            await _comment(receive, send, parts[3], me)
    else:
        await _error(send, 404, "path", "not found")
