# mypy: disable-error-code="import-untyped,untyped-decorator,misc"
"""The RealWorld endpoints in Django Ninja on the Django ORM (psycopg), as its users write them.

It shares ``django_app.py``'s settings (one Django per process): the Conduit's tables are its
``conduit`` database, the models (``rw_django/models.py``, ``managed=False``) an installed app
that ``ConduitRouter`` sends there, and its URLconf includes this one. ``select_related`` for the
author, ``prefetch_related`` for the tags, ``annotate`` for the favorites count and the reader's
flags; Ninja ``Schema``s with resolvers; the token checked by an ``APIKeyHeader`` auth class
(``Authorization: Token <jwt>``, PyJWT) that loads the reader.
"""

from __future__ import annotations

from typing import Any

from bench.apps import _realworld as rw
from bench.apps import django_app  # noqa: F401  (configures Django: settings, apps)

# isort: split
from django.core.wsgi import get_wsgi_application
from django.db.models import Count, Exists, OuterRef, Prefetch, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import path
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.security import APIKeyHeader

from bench.apps.rw_django.models import (
    Article,
    Comment,
    Favorite,
    Follow,
    Tag,
    User,
)

# -- auth --------------------------------------------------------------------------------------


class TokenAuth(APIKeyHeader):
    """``Authorization: Token <jwt>``: the reader, or a 401."""

    param_name = "Authorization"

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        try:
            user_id = rw.reader_id(key)
        except rw.TokenError:
            return None
        return User.objects.filter(id=user_id, is_active=True).first()


class Anonymous:
    id = None


class OptionalTokenAuth(TokenAuth):
    """The reader when a token is sent (a bad one is a 401), else ``Anonymous``."""

    def __call__(self, request: HttpRequest) -> Any:
        if "HTTP_AUTHORIZATION" not in request.META:
            return Anonymous()
        return super().__call__(request)


# -- schemas -----------------------------------------------------------------------------------


class Profile(Schema):
    username: str
    bio: str | None
    image: str | None
    following: bool


class ArticleSummary(Schema):
    slug: str
    title: str
    description: str
    tagList: list[str]  # the spec's names are the fields' (Ninja answers them)
    createdAt: Any = Field(alias="created_at")
    updatedAt: Any = Field(alias="updated_at")
    favorited: bool
    favoritesCount: int = Field(alias="favorites_count")
    author: Profile

    @staticmethod
    def resolve_tagList(article: Article) -> list[str]:
        return [tag.name for tag in article.tags.all()]

    @staticmethod
    def resolve_author(article: Article) -> dict[str, Any]:
        author = article.author
        return {
            "username": author.username,
            "bio": author.bio,
            "image": author.image,
            "following": article.following,  # type: ignore[attr-defined]
        }


class ArticleOut(ArticleSummary):
    body: str


class ArticleList(Schema):
    articles: list[ArticleSummary]
    articlesCount: int


class OneArticle(Schema):
    article: ArticleOut


class NewComment(Schema):
    body: str = Field(min_length=1)


class CommentIn(Schema):
    comment: NewComment


class CommentOut(Schema):
    id: int
    createdAt: Any = Field(alias="created_at")
    updatedAt: Any = Field(alias="updated_at")
    body: str
    author: Profile

    @staticmethod
    def resolve_author(comment: Comment) -> dict[str, Any]:
        author = comment.author
        # nobody follows themselves
        return {
            "username": author.username,
            "bio": author.bio,
            "image": author.image,
            "following": False,
        }


class OneComment(Schema):
    comment: CommentOut


class Page(Schema):
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=2**31 - 1)


# -- endpoints ---------------------------------------------------------------------------------

api = NinjaAPI(urls_namespace="conduit")


def articles_for(reader: Any) -> QuerySet[Article]:
    """Articles with their author and tags, the favorites count and ``reader``'s flags."""
    return (
        Article.objects.select_related("author")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("id")))
        .annotate(
            favorites_count=Count("favorites"),
            favorited=Exists(Favorite.objects.filter(article=OuterRef("pk"), user_id=reader.id)),
            following=Exists(
                Follow.objects.filter(follower_id=reader.id, followed=OuterRef("author_id"))
            ),
        )
    )


@api.get("/articles", response=ArticleList, auth=OptionalTokenAuth())
def list_articles(request: HttpRequest, page: Query[Page]) -> dict[str, Any]:
    articles = articles_for(request.auth).order_by("-created_at", "-id")
    chosen = articles[page.offset : page.offset + page.limit]
    return {"articles": list(chosen), "articlesCount": Article.objects.count()}


@api.get("/articles/{slug}", response=OneArticle, auth=OptionalTokenAuth())
def get_article(request: HttpRequest, slug: str) -> dict[str, Any]:
    return {"article": get_object_or_404(articles_for(request.auth), slug=slug)}


@api.post("/articles/{slug}/comments", response={201: OneComment}, auth=TokenAuth())
def add_comment(request: HttpRequest, slug: str, data: CommentIn) -> Status[dict[str, Any]]:
    article = get_object_or_404(Article, slug=slug)
    comment = Comment.objects.create(body=data.comment.body, article=article, author=request.auth)
    return Status(201, {"comment": comment})


urlpatterns = [path("api/", api.urls)]
app = get_wsgi_application()
