"""The RealWorld endpoints in Litestar + Advanced Alchemy, as its users write them.

Models on Advanced Alchemy's ``DefaultBase`` (its ``DateTimeUTC`` columns), one repository per
model (``SQLAlchemyAsyncRepository``) provided as a dependency on the plugin's ``db_session``,
``get_many_and_count`` with a ``LimitOffset`` filter and loader options (the author joined with the
reader's ``following`` flag, the tags by ``selectinload``, the reader's ``favorited`` flag), the
plugin's ``autocommit`` handler, msgspec Structs (camelCase) for bodies and answers. The reader
comes from a dependency that verifies the token with PyJWT. Validation errors answer 422 (the
RealWorld spec's status; Litestar's own is 400).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import msgspec
from advanced_alchemy.base import DefaultBase
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.types import DateTimeUTC
from litestar import Litestar, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from sqlalchemy import Column, ForeignKey, Table, Text, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
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


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


follows = Table(
    "follow",
    DefaultBase.metadata,
    Column("follower_id", ForeignKey("users.id"), primary_key=True),
    Column("followed_id", ForeignKey("users.id"), primary_key=True),
)
favorites = Table(
    "favorite",
    DefaultBase.metadata,
    Column("user_id", ForeignKey("users.id"), primary_key=True),
    Column("article_id", ForeignKey("article.id"), primary_key=True),
)


class User(DefaultBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool]
    following: Mapped[bool] = query_expression()


class Tag(DefaultBase):
    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"))


class Article(DefaultBase):
    __tablename__ = "article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC, default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC, default=_now)
    author: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(order_by=Tag.id)
    favorites_count: Mapped[int] = column_property(
        select(func.count()).where(favorites.c.article_id == id).scalar_subquery()
    )
    favorited: Mapped[bool] = query_expression()


class Comment(DefaultBase):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC, default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC, default=_now)


class UserRepository(SQLAlchemyAsyncRepository[User]):
    model_type = User


class ArticleRepository(SQLAlchemyAsyncRepository[Article]):
    model_type = Article


class CommentRepository(SQLAlchemyAsyncRepository[Comment]):
    model_type = Comment


async def provide_users(db_session: NamedDependency[AsyncSession]) -> UserRepository:
    return UserRepository(session=db_session)


async def provide_articles(db_session: NamedDependency[AsyncSession]) -> ArticleRepository:
    return ArticleRepository(session=db_session)


async def provide_comments(db_session: NamedDependency[AsyncSession]) -> CommentRepository:
    return CommentRepository(session=db_session)


async def provide_reader(
    request: Request[Any, Any, Any], users: NamedDependency[UserRepository]
) -> User | None:
    """The signed-in user, or None when the request has no token (401 when it is invalid)."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    try:
        user_id = rw.reader_id(header)
    except rw.TokenError as exc:
        raise NotAuthorizedException(str(exc)) from None
    user = await users.get_one_or_none(id=user_id, is_active=True)
    if user is None:
        raise NotAuthorizedException("the token's user does not exist")
    return user


# -- answers ---------------------------------------------------------------------------------


class Profile(msgspec.Struct):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ArticleSummary(msgspec.Struct, rename="camel"):
    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    favorited: bool
    favorites_count: int
    author: Profile


class ArticleOut(ArticleSummary, rename="camel"):
    body: str


class ArticleList(msgspec.Struct, rename="camel"):
    articles: list[ArticleSummary]
    articles_count: int


class NewComment(msgspec.Struct):
    body: Annotated[str, msgspec.Meta(min_length=1)]


class CommentIn(msgspec.Struct):
    comment: NewComment


class CommentOut(msgspec.Struct, rename="camel"):
    id: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    body: str
    author: Profile


def profile(user: User, following: bool) -> Profile:
    return Profile(username=user.username, bio=user.bio, image=user.image, following=following)


def summary(article: Article) -> dict[str, Any]:
    return {
        "slug": article.slug,
        "title": article.title,
        "description": article.description,
        "tag_list": [tag.name for tag in article.tags],
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "favorited": article.favorited,
        "favorites_count": article.favorites_count,
        "author": profile(article.author, article.author.following),
    }


# -- endpoints -------------------------------------------------------------------------------


def loads(me: User | None) -> list[Any]:
    """The loader options of an article as ``me`` reads it."""
    me_id = me.id if me else None
    following = exists().where(follows.c.follower_id == me_id, follows.c.followed_id == User.id)
    favorited = exists().where(favorites.c.article_id == Article.id, favorites.c.user_id == me_id)
    return [
        joinedload(Article.author).options(with_expression(User.following, following)),
        selectinload(Article.tags),
        with_expression(Article.favorited, favorited),
    ]


@get("/api/articles")
async def list_articles(
    articles: NamedDependency[ArticleRepository],
    reader: NamedDependency[User | None],
    limit: FromQuery[Annotated[int, Parameter(ge=1, le=100)]] = 20,
    offset: FromQuery[Annotated[int, Parameter(ge=0, le=2**31 - 1)]] = 0,
) -> ArticleList:
    found, total = await articles.get_many_and_count(
        LimitOffset(limit, offset),
        order_by=[Article.created_at.desc(), Article.id.desc()],
        load=loads(reader),
    )
    return ArticleList(
        articles=[ArticleSummary(**summary(article)) for article in found], articles_count=total
    )


@get("/api/articles/{slug:str}")
async def get_article(
    slug: FromPath[str],
    articles: NamedDependency[ArticleRepository],
    reader: NamedDependency[User | None],
) -> dict[str, Any]:
    article = await articles.get_one_or_none(slug=slug, load=loads(reader))
    if article is None:
        raise NotFoundException("article not found")
    return {"article": ArticleOut(**summary(article), body=article.body)}


@post("/api/articles/{slug:str}/comments")
async def add_comment(
    slug: FromPath[str],
    data: JSONBody[CommentIn],
    articles: NamedDependency[ArticleRepository],
    comments: NamedDependency[CommentRepository],
    reader: NamedDependency[User | None],
) -> dict[str, CommentOut]:
    if reader is None:
        raise NotAuthorizedException("no token: send Authorization: Token <jwt>")
    article = await articles.get_one_or_none(slug=slug)
    if article is None:
        raise NotFoundException("article not found")
    comment = await comments.add(
        Comment(body=data.comment.body, article_id=article.id, author_id=reader.id)
    )
    answer = CommentOut(
        id=comment.id,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
        body=comment.body,
        author=profile(reader, False),  # nobody follows themselves
    )
    return {"comment": answer}


def unprocessable(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    """The spec's 422 (Litestar answers 400) and its error shape."""
    return Response({"errors": {"body": [exc.detail]}}, status_code=422)


database = SQLAlchemyAsyncConfig(
    connection_string=rw.database_url().render_as_string(hide_password=False),
    before_send_handler="autocommit",
)
app = Litestar(
    route_handlers=[list_articles, get_article, add_comment],
    dependencies={
        "users": Provide(provide_users),
        "articles": Provide(provide_articles),
        "comments": Provide(provide_comments),
        "reader": Provide(provide_reader),
    },
    plugins=[SQLAlchemyPlugin(config=database)],
    exception_handlers={ValidationException: unprocessable},
)
