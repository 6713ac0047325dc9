"""What goes over the wire: camelCase JSON (``tagList``, ``createdAt``) from snake_case Python."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

T = TypeVar("T")


class Schema(BaseModel):
    """Reads camelCase JSON (``tagList``) or model attributes (``Article.tag_list``)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, from_attributes=True)


class Out(Schema):
    """Writes camelCase JSON; ``model_dump()`` of input schemas keeps the Python names."""

    model_config = ConfigDict(serialize_by_alias=True)


def _utc(value: datetime.datetime) -> datetime.datetime:
    # SQLite drops the time zone; every timestamp is stored in UTC, so say so ("...Z").
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def _not_null(value: T | None) -> T:
    if value is None:
        raise ValueError("can't be blank")
    return value


def _as_accepted(schema: dict[str, Any]) -> None:
    # Document the value's own type: no null, no null default (pydantic writes both).
    schema.pop("default", None)
    schema.update(next(choice for choice in schema.pop("anyOf") if choice != {"type": "null"}))


#: A field that an update may leave out but not set to ``null``: ``{"email": null}`` is a 422.
Omittable = Annotated[T | None, AfterValidator(_not_null), Field(json_schema_extra=_as_accepted)]
NonEmpty = Annotated[str, Field(min_length=1)]
Line = Annotated[str, Field(min_length=1, max_length=1000)]  # a title, a description
Text = Annotated[str, Field(min_length=1, max_length=100_000)]  # a body: ~15,000 words at most
Username = Annotated[str, Field(min_length=1, max_length=150)]  # prow.auth's column
#: At least 8 characters and no composition rules, as NIST SP 800-63B (and the RealWorld suite).
Password = Annotated[str, Field(min_length=8, max_length=256)]
#: An empty bio or image is no bio or image: stored and sent as ``null``.
Blankable = Annotated[str | None, AfterValidator(lambda value: value or None)]
Timestamp = Annotated[datetime.datetime, AfterValidator(_utc)]


class Errors(BaseModel):
    """Every error answer: ``{"errors": {"body": ["can't be blank"]}}`` (see ``app.py``)."""

    errors: dict[str, list[str]]


# -- users and profiles -------------------------------------------------------------------------


class NewUser(Schema):
    username: Username
    email: NonEmpty
    password: Password


class Login(Schema):
    email: NonEmpty
    password: NonEmpty


class UserUpdate(Schema):
    """Only the fields sent change; ``null`` or ``""`` clears a bio or an image."""

    email: Omittable[NonEmpty] = None
    username: Omittable[Username] = None
    password: Omittable[Password] = None
    bio: Blankable = None
    image: Blankable = None


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
    title: Line
    description: Line
    body: Text
    tag_list: list[NonEmpty] = []


class ArticleUpdate(Schema):
    """Only the fields sent change; ``"tagList": []`` removes every tag."""

    title: Omittable[Line] = None
    description: Omittable[Line] = None
    body: Omittable[Text] = None
    tag_list: Omittable[list[NonEmpty]] = None


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
    body: Text


class CommentOut(Out):
    id: int
    created_at: Timestamp
    updated_at: Timestamp
    body: str
    author: Profile
