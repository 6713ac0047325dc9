"""What goes over the wire: camelCase JSON (``tagList``, ``createdAt``) from snake_case Python."""

from __future__ import annotations

import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    """Reads camelCase JSON (``tagList``) or model attributes (``Article.tag_list``)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, from_attributes=True)


class Out(Schema):
    """Writes camelCase JSON; ``model_dump()`` of input schemas keeps the Python names."""

    model_config = ConfigDict(serialize_by_alias=True)


def _utc(value: datetime.datetime) -> datetime.datetime:
    # SQLite drops the time zone; every timestamp is stored in UTC, so say so ("...Z").
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


NonEmpty = Annotated[str, Field(min_length=1)]
Username = Annotated[str, Field(min_length=1, max_length=150)]  # prow.auth's column
Timestamp = Annotated[datetime.datetime, AfterValidator(_utc)]

# -- users and profiles -------------------------------------------------------------------------


class NewUser(Schema):
    username: Username
    email: NonEmpty
    password: NonEmpty


class Login(Schema):
    email: NonEmpty
    password: NonEmpty


class UserUpdate(Schema):
    """Only the fields sent change; ``null`` clears a bio or an image."""

    email: NonEmpty | None = None
    username: Username | None = None
    password: NonEmpty | None = None
    bio: str | None = None
    image: str | None = None


class UserOut(Out):
    email: str
    token: str
    username: str
    bio: str | None
    image: str | None


class Profile(Out):
    username: str
    bio: str | None
    image: str | None
    following: bool


# -- articles and comments ----------------------------------------------------------------------


class NewArticle(Schema):
    title: NonEmpty
    description: NonEmpty
    body: NonEmpty
    tag_list: list[NonEmpty] = []


class ArticleUpdate(Schema):
    title: NonEmpty | None = None
    description: NonEmpty | None = None
    body: NonEmpty | None = None
    tag_list: list[NonEmpty] | None = None


class ArticleSummary(Out):
    """An article in a list: everything but its body."""

    slug: str
    title: str
    description: str
    tag_list: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    favorited: bool
    favorites_count: int
    author: Profile


class ArticleOut(ArticleSummary):
    body: str


class ArticlePage(Out):
    articles: list[ArticleSummary]
    articles_count: int


class NewComment(Schema):
    body: NonEmpty


class CommentOut(Out):
    id: int
    created_at: Timestamp
    updated_at: Timestamp
    body: str
    author: Profile
