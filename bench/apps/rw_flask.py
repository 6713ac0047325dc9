"""The RealWorld endpoints in Flask + Flask-SQLAlchemy (blocking psycopg), as its users write them.

Models on ``db.Model`` (the favorites count a ``column_property``, the reader's flags
``query_expression``s filled per query), ``db.session`` queries with loader options (the author
joined, the tags by ``selectinload``), ``to_json`` methods, pydantic for the comment's body, and
a ``before_request`` hook that verifies the token with PyJWT and puts the reader on ``g``.
"""

from __future__ import annotations

import datetime
from typing import Any

from flask import Flask, Response, abort, g, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Column, DateTime, ForeignKey, Table, Text, exists, func, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    column_property,
    joinedload,
    mapped_column,
    query_expression,
    relationship,
    selectinload,
    with_expression,
)

from bench.apps import _realworld as rw


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _time(value: datetime.datetime) -> str:
    return value.isoformat()


follows = Table(
    "follow",
    db.metadata,
    Column("follower_id", ForeignKey("users.id"), primary_key=True),
    Column("followed_id", ForeignKey("users.id"), primary_key=True),
)
favorites = Table(
    "favorite",
    db.metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("article_id", ForeignKey("article.id"), primary_key=True),
)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool]
    following: Mapped[bool] = query_expression()

    def profile(self, following: bool) -> dict[str, Any]:
        return {
            "username": self.username,
            "bio": self.bio,
            "image": self.image,
            "following": following,
        }


class Tag(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"))


class Article(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    author: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(order_by=Tag.id)
    favorites_count: Mapped[int] = column_property(
        select(func.count()).where(favorites.c.article_id == id).scalar_subquery()
    )
    favorited: Mapped[bool] = query_expression()

    def to_json(self, *, body: bool) -> dict[str, Any]:
        answer = {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "tagList": [tag.name for tag in self.tags],
            "createdAt": _time(self.created_at),
            "updatedAt": _time(self.updated_at),
            "favorited": self.favorited,
            "favoritesCount": self.favorites_count,
            "author": self.author.profile(self.author.following),
        }
        if body:
            answer["body"] = self.body
        return answer


class Comment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    author: Mapped[User] = relationship()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "createdAt": _time(self.created_at),
            "updatedAt": _time(self.updated_at),
            "body": self.body,
            "author": self.author.profile(False),  # nobody follows themselves
        }


class NewComment(BaseModel):
    body: str = Field(min_length=1)


class CommentIn(BaseModel):
    comment: NewComment


app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = rw.sync_database_url().render_as_string(hide_password=False)
db.init_app(app)


def _error(status: int, field: str, message: str) -> Response:
    answer = jsonify({"errors": {field: [message]}})
    answer.status_code = status
    return answer


@app.errorhandler(ValidationError)
def invalid(exc: ValidationError) -> Response:
    return _error(422, "body", "can't be blank")


@app.errorhandler(404)
def not_found(exc: Exception) -> Response:
    return _error(404, "article", "not found")


@app.before_request
def load_reader() -> Response | None:
    """``g.reader``: the signed-in user, or None without a token; an invalid one is a 401."""
    g.reader = None
    header = request.headers.get("Authorization")
    if header is None:
        return None
    try:
        user_id = rw.reader_id(header)
    except rw.TokenError as exc:
        return _error(401, "token", str(exc))
    g.reader = db.session.get(User, user_id)
    if g.reader is None or not g.reader.is_active:
        return _error(401, "token", "the token's user does not exist")
    return None


def articles_as_reader() -> Any:
    me = g.reader.id if g.reader else None
    following = exists().where(follows.c.follower_id == me, follows.c.followed_id == User.id)
    favorited = exists().where(favorites.c.article_id == Article.id, favorites.c.user_id == me)
    return select(Article).options(
        joinedload(Article.author).options(with_expression(User.following, following)),
        selectinload(Article.tags),
        with_expression(Article.favorited, favorited),
    )


@app.get("/api/articles")
def list_articles() -> Any:
    limit = request.args.get("limit", 20, type=int)
    offset = request.args.get("offset", 0, type=int)
    if not (1 <= limit <= 100 and 0 <= offset < 2**31):
        return _error(422, "limit", "limit 1-100, offset 0 or more")
    query = (
        articles_as_reader()
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    articles = db.session.scalars(query).all()
    total = db.session.scalar(select(func.count(Article.id)))
    return {"articles": [a.to_json(body=False) for a in articles], "articlesCount": total}


@app.get("/api/articles/<slug>")
def get_article(slug: str) -> Any:
    article = db.session.scalar(articles_as_reader().where(Article.slug == slug))
    if article is None:
        abort(404)
    return {"article": article.to_json(body=True)}


@app.post("/api/articles/<slug>/comments")
def add_comment(slug: str) -> Any:
    if g.reader is None:
        return _error(401, "token", "no token: send Authorization: Token <jwt>")
    data = CommentIn.model_validate_json(request.get_data())
    article_id = db.session.scalar(select(Article.id).where(Article.slug == slug))
    if article_id is None:
        abort(404)
    comment = Comment(body=data.comment.body, article_id=article_id, author=g.reader)
    db.session.add(comment)
    db.session.commit()
    return {"comment": comment.to_json()}, 201
