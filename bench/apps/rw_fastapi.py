"""The RealWorld endpoints in FastAPI + SQLAlchemy 2 async, as its users write them.

An ``AsyncSession`` dependency, a ``current_user`` dependency that reads the token from an
``APIKeyHeader`` (the RealWorld reference's way: ``Authorization: Token <jwt>``), verifies it with
PyJWT and loads the reader with ``session.get``; ORM queries built in the handler (the author
joined, the tags by ``selectinload``, favorites counted and the reader's flags as columns), and
pydantic response models with camelCase aliases.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import joinedload, selectinload

from bench.apps import _realworld as rw
from bench.apps._rw_models import Article, Comment, User, favorites, follows

engine = create_async_engine(rw.database_url())
new_session = async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


async def get_session() -> AsyncIterator[AsyncSession]:
    async with new_session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
token_header = APIKeyHeader(name="Authorization", auto_error=False)


async def optional_user(
    session: SessionDep, authorization: Annotated[str | None, Depends(token_header)]
) -> User | None:
    if authorization is None:
        return None
    try:
        user_id = rw.reader_id(authorization)
    except rw.TokenError as exc:
        raise HTTPException(401, str(exc)) from None
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        raise HTTPException(401, "the token's user does not exist")
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise HTTPException(401, "no token: send Authorization: Token <jwt>")
    return user


MaybeMe = Annotated[User | None, Depends(optional_user)]
Me = Annotated[User, Depends(current_user)]


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Profile(Schema):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ArticleSummary(Schema):
    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    favorited: bool
    favorites_count: int
    author: Profile


class ArticleOut(ArticleSummary):
    body: str


class ArticleList(Schema):
    articles: list[ArticleSummary]
    articles_count: int


class OneArticle(Schema):
    article: ArticleOut


class NewComment(Schema):
    body: str = Field(min_length=1)


class CommentIn(Schema):
    comment: NewComment


class CommentOut(Schema):
    id: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    body: str
    author: Profile


class OneComment(Schema):
    comment: CommentOut


def articles_query(me: User | None):  # type: ignore[no-untyped-def]
    """Articles with their author and tags, the favorites count and the reader's flags."""
    me_id = me.id if me else None
    favorites_count = (
        select(func.count()).where(favorites.c.article_id == Article.id).scalar_subquery()
    )
    favorited = exists().where(favorites.c.article_id == Article.id, favorites.c.user_id == me_id)
    following = exists().where(
        follows.c.follower_id == me_id, follows.c.followed_id == Article.author_id
    )
    return select(Article, favorites_count, favorited, following).options(
        joinedload(Article.author), selectinload(Article.tags)
    )


def to_summary(article: Article, count: int, favorited: bool, following: bool) -> dict:  # type: ignore[type-arg]
    author = article.author
    return {
        "slug": article.slug,
        "title": article.title,
        "description": article.description,
        "tag_list": [tag.name for tag in article.tags],
        "created_at": article.created_at,
        "updated_at": article.updated_at,
        "favorited": favorited,
        "favorites_count": count,
        "author": Profile(
            username=author.username, bio=author.bio, image=author.image, following=following
        ),
    }


app = FastAPI(lifespan=lifespan)


@app.get("/api/articles", response_model=ArticleList)
async def list_articles(
    session: SessionDep,
    me: MaybeMe,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> ArticleList:
    query = (
        articles_query(me)
        .order_by(Article.created_at.desc(), Article.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = (await session.execute(query)).all()
    total = await session.scalar(select(func.count()).select_from(Article))
    articles = [ArticleSummary(**to_summary(*row)) for row in rows]
    return ArticleList(articles=articles, articles_count=total or 0)


@app.get("/api/articles/{slug}", response_model=OneArticle)
async def get_article(slug: str, session: SessionDep, me: MaybeMe) -> OneArticle:
    row = (await session.execute(articles_query(me).where(Article.slug == slug))).first()
    if row is None:
        raise HTTPException(404, "article not found")
    article = row[0]
    return OneArticle(article=ArticleOut(**to_summary(*row), body=article.body))


@app.post("/api/articles/{slug}/comments", response_model=OneComment, status_code=201)
async def add_comment(slug: str, data: CommentIn, session: SessionDep, me: Me) -> OneComment:
    article_id = await session.scalar(select(Article.id).where(Article.slug == slug))
    if article_id is None:
        raise HTTPException(404, "article not found")
    comment = Comment(body=data.comment.body, article_id=article_id, author_id=me.id)
    session.add(comment)
    await session.commit()
    author = Profile(username=me.username, bio=me.bio, image=me.image, following=False)
    return OneComment(
        comment=CommentOut(
            id=comment.id,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            body=comment.body,
            author=author,
        )
    )
