# mypy: disable-error-code="import-untyped,misc"
"""Django models of prow's Conduit tables (``managed=False``; the link tables with a
``CompositePrimaryKey``), in the ``conduit`` database, for the Django Ninja RealWorld endpoints
(``bench/apps/rw_ninja.py``). An installed app (``django_app.py``'s settings), so that the
reverse relations (``article.tags``, ``article.favorites``) exist.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

__all__ = ["Article", "Comment", "ConduitRouter", "Favorite", "Follow", "Tag", "User"]

LABEL = "rw_django"
DATABASE = "conduit"


class ConduitRouter:
    """Reads and writes of these models go to the ``conduit`` database."""

    def db_for_read(self, model: type[models.Model], **hints: Any) -> str | None:
        return DATABASE if model._meta.app_label == LABEL else None

    db_for_write = db_for_read


class User(models.Model):
    username = models.CharField(max_length=150)
    bio = models.TextField(null=True)
    image = models.TextField(null=True)
    is_active = models.BooleanField()

    class Meta:
        app_label = LABEL
        db_table = "users"
        managed = False


class Follow(models.Model):
    pk = models.CompositePrimaryKey("follower_id", "followed_id")
    follower = models.ForeignKey(User, models.CASCADE, related_name="+")
    followed = models.ForeignKey(User, models.CASCADE, related_name="+")

    class Meta:
        app_label = LABEL
        db_table = "follow"
        managed = False


class Article(models.Model):
    slug = models.TextField(unique=True)
    title = models.TextField()
    description = models.TextField()
    body = models.TextField()
    author = models.ForeignKey(User, models.CASCADE, related_name="articles")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = LABEL
        db_table = "article"
        managed = False


class Tag(models.Model):
    name = models.TextField()
    article = models.ForeignKey(Article, models.CASCADE, related_name="tags")

    class Meta:
        app_label = LABEL
        db_table = "tag"
        managed = False


class Favorite(models.Model):
    pk = models.CompositePrimaryKey("user_id", "article_id")
    user = models.ForeignKey(User, models.CASCADE, related_name="+")
    article = models.ForeignKey(Article, models.CASCADE, related_name="favorites")

    class Meta:
        app_label = LABEL
        db_table = "favorite"
        managed = False


class Comment(models.Model):
    body = models.TextField()
    article = models.ForeignKey(Article, models.CASCADE, related_name="comments")
    author = models.ForeignKey(User, models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = LABEL
        db_table = "comment"
        managed = False
