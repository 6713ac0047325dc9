"""Articles (list, feed, read, write, favorite), their comments, and the tags in use."""

from __future__ import annotations

import re
import secrets
from functools import cache
from typing import Annotated, Any

from sqlalchemy import Integer, Select, bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, with_expression

from prow import Depends, Path, Query, Router
from prow.db import DBSession

from .models import Article, Comment, Tag, User, favorites, follows
from .schemas import ArticleOut, ArticlePage, ArticleUpdate, CommentOut, NewArticle, NewComment
from .users import Embed, MaybeMe, Me, fail, following_me, link

router = Router(prefix="/api", tags=["articles"])
Limit = Annotated[int, Query(ge=1, le=100)]
#: Bounded by what every database stores in an integer column: larger is a 422, said so.
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]
CommentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


# Built once, run per request with bound values (SQLAlchemy caches their compiled SQL; nothing
# is rebuilt per request): ``:me`` is the signed-in user's id (NULL when anonymous, or when the
# ORM reloads a row by itself: no flag is set), ``:slug``, ``:tag``... what the request names
# (docs/database.md, "Statements built once"). The author comes in the same statement (a join),
# the tags in one more for the whole page.
ME = bindparam("me", None, type_=Integer)
FAVORITED = exists().where(favorites.c.article_id == Article.id, favorites.c.user_id == ME)
AUTHOR = joinedload(Article.author).options(with_expression(User.following, following_me))
ARTICLES = (
    select(Article)
    .options(with_expression(Article.favorited, FAVORITED), AUTHOR)
    .order_by(Article.created_at.desc(), Article.id.desc())
    .execution_options(populate_existing=True)  # counts and flags change between queries
)
BY_SLUG = ARTICLES.where(Article.slug == bindparam("slug"))
FILTERS = {
    "tag": Article.tags.any(Tag.name == bindparam("tag")),
    "author": Article.author.has(User.username == bindparam("author")),
    "favorited": Article.id.in_(
        select(favorites.c.article_id).join(User).where(User.username == bindparam("favorited"))
    ),
    "feed": Article.author_id.in_(select(follows.c.followed_id).where(follows.c.follower_id == ME)),
}


# A page is read as rows, not objects: the summary's columns (its author's joined in) and
# then every tag of the page in one statement. Validating plain rows skips the ORM's identity
# map and object state: about half of a list's cost (bench/, the RealWorld endpoints).
SUMMARY = (
    select(
        Article.id,
        Article.slug,
        Article.title,
        Article.description,
        Article.created_at,
        Article.updated_at,
        Article.favorites_count,
        FAVORITED.label("favorited"),
        User.username,
        User.bio,
        User.image,
        following_me.label("following"),
    )
    .join(Article.author)
    .order_by(Article.created_at.desc(), Article.id.desc())
)
PAGE_TAGS = (
    select(Tag.article_id, Tag.name)
    .where(Tag.article_id.in_(bindparam("ids", expanding=True)))
    .order_by(Tag.id)
)
PROFILE_FIELDS = ("username", "bio", "image", "following")


@cache
def listing(*names: str) -> tuple[Select[tuple[int]], Select[Any]]:
    """The count and the page of articles filtered by ``FILTERS[name]`` for each name."""
    where = [FILTERS[name] for name in names]
    page = SUMMARY.where(*where).limit(bindparam("limit")).offset(bindparam("offset"))
    return select(func.count(Article.id)).where(*where), page


async def find_article(session: DBSession, slug: str, me: User | None = None) -> Article:
    values = {"slug": slug, "me": me.id if me else None}
    article = await session.scalar(BY_SLUG, values)
    if article is None:
        raise fail(404, "article", "not found")
    return article


async def own_article(slug: str, me: Me, session: DBSession) -> Article:
    """A guard for changes: the article, if ``me`` wrote it."""
    article = await find_article(session, slug, me)
    if article.author_id != me.id:
        raise fail(403, "article", "forbidden")  # only its author may change it
    return article


OwnArticle = Annotated[Article, Depends(own_article)]


async def page(
    session: DBSession, me: User | None, limit: int, offset: int, **filters: str
) -> ArticlePage:
    count, articles = listing(*filters)
    values = {**filters, "me": me.id if me else None, "limit": limit, "offset": offset}
    total = await session.scalar(count, values)
    rows = (await session.execute(articles, values)).mappings().all()
    tags: dict[int, list[str]] = {row["id"]: [] for row in rows}
    if tags:
        for article_id, name in await session.execute(PAGE_TAGS, {"ids": list(tags)}):
            tags[article_id].append(name)
    summaries = [
        {**row, "tag_list": tags[row["id"]], "author": {f: row[f] for f in PROFILE_FIELDS}}
        for row in rows
    ]
    return ArticlePage.model_validate({"articles": summaries, "articles_count": total})


def one(article: Article) -> dict[str, ArticleOut]:
    return {"article": ArticleOut.model_validate(article)}


async def save_with_slug(session: DBSession, article: Article) -> None:
    """Store ``article`` under its title's slug (``"How to Train"`` → ``"how-to-train"``), or,
    when another article has that slug, under the slug and a random suffix.

    Trying is the only race-free check: two requests with the same title may both see a slug
    free, but the unique column lets one write it and makes the other retry with a suffix.
    """
    slug = re.sub(r"[\W_]+", "-", article.title.lower()).strip("-")[:200] or "article"
    try:
        async with session.begin_nested():  # a refused INSERT undoes this SAVEPOINT only
            article.slug = slug
            session.add(article)
    except IntegrityError:
        article.slug = f"{slug}-{secrets.token_hex(4)}"
        session.add(article)


def tags(names: list[str]) -> list[Tag]:
    return [Tag(name=name) for name in dict.fromkeys(names)]  # in order, without repeats


@router.get("/articles")
async def list_articles(
    session: DBSession,
    me: MaybeMe,
    tag: str | None = None,
    author: str | None = None,
    favorited: str | None = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> ArticlePage:
    chosen = {"tag": tag, "author": author, "favorited": favorited}
    filters = {name: value for name, value in chosen.items() if value}
    return await page(session, me, limit, offset, **filters)


@router.get("/articles/feed")
async def feed(session: DBSession, me: Me, limit: Limit = 20, offset: Offset = 0) -> ArticlePage:
    return await page(session, me, limit, offset, feed="")


@router.get("/articles/{slug}")
async def get_article(slug: str, me: MaybeMe, session: DBSession) -> dict[str, ArticleOut]:
    return one(await find_article(session, slug, me))


@router.post("/articles", status_code=201)
async def create_article(
    article: Annotated[NewArticle, Embed], me: Me, session: DBSession
) -> dict[str, ArticleOut]:
    fields = article.model_dump(exclude={"tag_list"})
    new = Article(**fields, author=me, tags=tags(article.tag_list))
    await save_with_slug(session, new)
    return one(await find_article(session, new.slug, me))


@router.put("/articles/{slug}")
async def update_article(
    article: Annotated[ArticleUpdate, Embed], old: OwnArticle, me: Me, session: DBSession
) -> dict[str, ArticleOut]:
    changes = article.model_dump(exclude_unset=True)  # null is refused: only values here
    if "tag_list" in changes:
        old.tags = tags(changes.pop("tag_list"))
    retitled = changes.get("title", old.title) != old.title
    for name, value in changes.items():
        setattr(old, name, value)
    if retitled:  # the slug follows the title
        await save_with_slug(session, old)
    return one(await find_article(session, old.slug, me))


@router.delete("/articles/{slug}", status_code=204)
async def delete_article(article: OwnArticle, session: DBSession) -> None:
    await session.delete(article)


@router.post("/articles/{slug}/favorite")
async def favorite(slug: str, me: Me, session: DBSession) -> dict[str, ArticleOut]:
    await link(session, favorites, True, user_id=me.id, article_id=await article_id(session, slug))
    return one(await find_article(session, slug, me))


@router.delete("/articles/{slug}/favorite")
async def unfavorite(slug: str, me: Me, session: DBSession) -> dict[str, ArticleOut]:
    found = await article_id(session, slug)
    await link(session, favorites, False, user_id=me.id, article_id=found)
    return one(await find_article(session, slug, me))


COMMENTS = (
    select(Comment)
    .join(Article, Article.id == Comment.article_id)
    .where(Article.slug == bindparam("slug"))
    .options(joinedload(Comment.author).options(with_expression(User.following, following_me)))
    .order_by(Comment.id.desc())
    .execution_options(populate_existing=True)
)
ARTICLE_ID = select(Article.id).where(Article.slug == bindparam("slug"))


async def article_id(session: DBSession, slug: str) -> int:
    found = await session.scalar(ARTICLE_ID, {"slug": slug})
    if found is None:
        raise fail(404, "article", "not found")
    return found


@router.get("/articles/{slug}/comments")
async def list_comments(slug: str, me: MaybeMe, session: DBSession) -> dict[str, list[CommentOut]]:
    values = {"slug": slug, "me": me.id if me else None}
    comments = (await session.scalars(COMMENTS, values)).all()
    if not comments:
        await article_id(session, slug)  # none, or no such article (404)?
    return {"comments": [CommentOut.model_validate(row) for row in comments]}


@router.post("/articles/{slug}/comments", status_code=201)
async def add_comment(
    slug: str, comment: Annotated[NewComment, Embed], me: Me, session: DBSession
) -> dict[str, CommentOut]:
    new = Comment(body=comment.body, article_id=await article_id(session, slug), author=me)
    session.add(new)
    await session.flush()  # sends the INSERT: the id and timestamps are known from here on
    return {"comment": CommentOut.model_validate(new)}


@router.delete("/articles/{slug}/comments/{comment_id}", status_code=204)
async def delete_comment(slug: str, comment_id: CommentId, me: Me, session: DBSession) -> None:
    query = select(Comment).where(
        Comment.id == comment_id, Comment.article_id == await article_id(session, slug)
    )
    comment = await session.scalar(query)
    if comment is None:
        raise fail(404, "comment", "not found")
    if comment.author_id != me.id:
        raise fail(403, "comment", "forbidden")  # only its author may delete it
    await session.delete(comment)


@router.get("/tags")
async def list_tags(session: DBSession) -> dict[str, list[str]]:
    """Every tag in use, the most used first."""
    query = select(Tag.name).group_by(Tag.name).order_by(func.count().desc(), Tag.name)
    return {"tags": list(await session.scalars(query))}
