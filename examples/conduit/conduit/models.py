"""The tables: users who follow each other, articles with tags and favorites, comments."""

import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, Table, Text, false, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, query_expression, relationship

from prow.auth import AbstractUser
from prow.db import Model


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _user_key(name: str) -> Column[int]:
    return Column(name, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


follows = Table("follow", Model.metadata, _user_key("follower_id"), _user_key("followed_id"))
favorites = Table(
    "favorite",
    Model.metadata,
    _user_key("user_id"),
    Column("article_id", ForeignKey("article.id", ondelete="CASCADE"), primary_key=True),
)


class User(AbstractUser, Model):
    """prow's user (username, password hash...) with a unique email, a bio and an image.

    Text has no length limit, so no input can be too long for the database.
    """

    __tablename__ = "users"  # "user" is a reserved word in PostgreSQL

    email: Mapped[str] = mapped_column(Text, unique=True)
    bio: Mapped[str | None] = mapped_column(Text)
    image: Mapped[str | None] = mapped_column(Text)
    #: Whether the user asking follows this one, filled in by ``with_expression`` (users.py).
    following: Mapped[bool] = query_expression(default_expr=false())


class Timestamped:
    """When a row was made and last changed (UTC)."""

    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, onupdate=_now
    )


class Tag(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, index=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), index=True
    )


class Article(Timestamped, Model):
    # Lists read newest first: ORDER BY created_at DESC, id DESC walks this index backwards.
    __table_args__ = (Index(None, "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    author: Mapped[User] = relationship()
    tags: Mapped[list[Tag]] = relationship(
        cascade="all, delete-orphan", order_by=Tag.id, lazy="selectin"
    )
    favorites_count: Mapped[int] = column_property(
        select(func.count()).where(favorites.c.article_id == id).scalar_subquery()
    )
    #: Whether the user asking has favorited it, filled in by ``with_expression`` (articles.py).
    favorited: Mapped[bool] = query_expression(default_expr=false())

    @property
    def tag_list(self) -> list[str]:
        return [tag.name for tag in self.tags]


class Comment(Timestamped, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    author: Mapped[User] = relationship()
