"""schema_for: pydantic schemas for reading, creating and updating rows of a model."""

from __future__ import annotations

import datetime
import decimal
import enum
from typing import Any

import pydantic
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from prow.db import schema_for


class Base(DeclarativeBase):
    metadata = sa.MetaData()


class Color(enum.Enum):
    red = "red"
    blue = "blue"


class Writer(Base):
    __tablename__ = "sch_writer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    posts: Mapped[list[Post]] = relationship(back_populates="writer")


class Post(Base):
    __tablename__ = "sch_post"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(20), doc="The headline")
    price: Mapped[decimal.Decimal] = mapped_column(sa.Numeric(6, 2), default=1)
    color: Mapped[Color] = mapped_column(default=Color.red)
    kind: Mapped[str] = mapped_column(sa.Enum("a", "b", name="sch_kind"), server_default="a")
    note: Mapped[str | None]
    created: Mapped[datetime.datetime] = mapped_column(default=datetime.datetime.now)
    writer_id: Mapped[int] = mapped_column(sa.ForeignKey("sch_writer.id"))
    writer: Mapped[Writer] = relationship(back_populates="posts")


class Slug(Base):
    __tablename__ = "sch_slug"
    slug: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    total: Mapped[int] = mapped_column(sa.Computed("1 + 1"))


def post() -> Post:
    writer = Writer(id=1, name="Ann")
    return Post(
        id=3,
        title="Hi",
        price=decimal.Decimal("2.50"),
        color=Color.blue,
        kind="b",
        note=None,
        created=datetime.datetime(2024, 1, 2, 3, 4, 5),
        writer_id=1,
        writer=writer,
    )


def test_read_has_every_column_and_reads_attributes() -> None:
    read = schema_for(Post)
    assert list(read.model_fields) == [
        "id",
        "title",
        "price",
        "color",
        "kind",
        "note",
        "created",
        "writer_id",
    ]
    assert all(field.is_required() for field in read.model_fields.values())
    value = read.model_validate(post())
    assert value.model_dump(mode="json") == {
        "id": 3,
        "title": "Hi",
        "price": "2.50",
        "color": "blue",
        "kind": "b",
        "note": None,
        "created": "2024-01-02T03:04:05",
        "writer_id": 1,
    }
    assert read.__name__ == "PostRead"


def test_create_leaves_out_generated_fields_and_makes_defaulted_ones_optional() -> None:
    create = schema_for(Post, mode="create")
    fields = create.model_fields
    assert "id" not in fields  # autoincrement key
    required = sorted(name for name, field in fields.items() if field.is_required())
    assert required == ["title", "writer_id"]
    assert fields["price"].default == 1 and fields["color"].default is Color.red
    value = create(title="Hi", writer_id=1)
    # Unset fields stay unset, so the model's and the server's defaults apply.
    assert value.model_dump(exclude_unset=True) == {"title": "Hi", "writer_id": 1}
    assert set(schema_for(Slug, mode="create").model_fields) == {"slug"}  # natural key kept


def test_create_validates_types_and_limits() -> None:
    create = schema_for(Post, mode="create")
    with pytest.raises(pydantic.ValidationError) as info:
        create(title="x" * 21, writer_id="one", price="123456.5", color="green", kind="c", extra=1)
    kinds = {(e["loc"][0], e["type"]) for e in info.value.errors()}
    assert kinds == {
        ("title", "string_too_long"),
        ("writer_id", "int_parsing"),
        ("price", "decimal_max_digits"),
        ("color", "enum"),
        ("kind", "literal_error"),
        ("extra", "extra_forbidden"),
    }
    schema = create.model_json_schema()
    assert schema["properties"]["title"] == {
        "title": "Title",
        "type": "string",
        "maxLength": 20,
        "description": "The headline",
    }
    assert schema["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schema["properties"]["note"]["default"] is None
    assert "default" not in schema["properties"]["created"]  # generated, not null


def test_update_makes_everything_optional() -> None:
    update = schema_for(Post, mode="update")
    assert "id" not in update.model_fields
    assert not any(field.is_required() for field in update.model_fields.values())
    assert update(title="New").model_dump(exclude_unset=True) == {"title": "New"}
    with pytest.raises(pydantic.ValidationError):
        update(title=None)  # a non-nullable column cannot be set to null
    assert update(note=None).model_dump(exclude_unset=True) == {"note": None}
    assert "required" not in update.model_json_schema()


def test_include_exclude_and_name() -> None:
    small = schema_for(Post, include=["id", "title"])
    assert list(small.model_fields) == ["id", "title"]
    rest = schema_for(Post, mode="create", exclude={"note", "created"}, name="PostIn")
    assert "note" not in rest.model_fields and rest.__name__ == "PostIn"
    with pytest.raises(ValueError, match=r"include names \['nope'\].*its attributes are"):
        schema_for(Post, include=["nope"])


def test_schemas_are_cached() -> None:
    assert schema_for(Post, mode="update") is schema_for(Post, mode="update")
    assert schema_for(Post, include=["id"]) is schema_for(Post, include=("id",))
    assert schema_for(Post, include=["id"]) is not schema_for(Post)


@pytest.mark.parametrize(
    ("relationships", "expected"),
    [
        ("ids", {"id": 1, "name": "Ann", "posts": [3]}),
        ("nested", {"id": 1, "name": "Ann", "posts": [{"id": 3, "title": "Hi"}]}),
        ("omit", {"id": 1, "name": "Ann"}),
    ],
)
def test_relationships(relationships: Any, expected: dict[str, Any]) -> None:
    schema = schema_for(Writer, relationships=relationships)
    writer = post().writer
    dumped = schema.model_validate(writer).model_dump(mode="json")
    if relationships == "nested":
        dumped["posts"] = [{"id": p["id"], "title": p["title"]} for p in dumped["posts"]]
    assert dumped == expected


def test_to_one_relationship_may_be_null() -> None:
    schema = schema_for(Post, relationships="ids", include=["id", "writer"])
    assert schema.model_validate(post()).model_dump() == {"id": 3, "writer": 1}
    lonely = Post(id=4)
    assert schema.model_validate(lonely).model_dump() == {"id": 4, "writer": None}


def test_mistakes() -> None:
    with pytest.raises(ValueError, match="read schemas only"):
        schema_for(Post, mode="create", relationships="ids")
    with pytest.raises(ValueError, match="mode must be"):
        schema_for(Post, mode="delete")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a mapped model class"):
        schema_for(int)


class Sizes(Base):
    __tablename__ = "sch_sizes"
    id: Mapped[int] = mapped_column(primary_key=True)
    small: Mapped[int] = mapped_column(sa.SmallInteger)
    normal: Mapped[int | None]
    big: Mapped[int] = mapped_column(sa.BigInteger)
    ratio: Mapped[float]
    amount: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(10, 2))


@pytest.mark.parametrize(("field", "bits"), [("small", 16), ("normal", 32), ("big", 64)])
@pytest.mark.parametrize("mode", ["create", "update"])
def test_integers_stay_within_their_column_type(field: str, bits: int, mode: Any) -> None:
    schema = schema_for(Sizes, mode=mode)
    base = {"small": 1, "big": 1, "ratio": 1.0}
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    assert getattr(schema(**{**base, field: high}), field) == high
    assert getattr(schema(**{**base, field: low}), field) == low
    for value in (high + 1, low - 1, 99999999999999999999):
        with pytest.raises(pydantic.ValidationError) as info:
            schema(**{**base, field: value})
        assert [e["loc"] for e in info.value.errors()] == [(field,)]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "Infinity", "NaN"])
@pytest.mark.parametrize("field", ["ratio", "amount"])
def test_floats_and_decimals_must_be_finite(field: str, value: Any) -> None:
    schema = schema_for(Sizes, mode="create")
    with pytest.raises(pydantic.ValidationError) as info:
        schema(**{"small": 1, "big": 1, "ratio": 1.0, field: value})
    assert info.value.errors()[0]["type"] == "finite_number"
    schema_json = schema_for(Sizes, mode="update")
    with pytest.raises(pydantic.ValidationError):
        schema_json.model_validate_json(f'{{"{field}": 1e400}}')


class Account(Base):
    __tablename__ = "sch_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(30))
    secret: Mapped[str] = mapped_column(sa.String(64), info={"sensitive": True})
    admin: Mapped[bool] = mapped_column(default=False, info={"read_only": True})
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sch_writer.id"))
    owner: Mapped[Writer | None] = relationship(info={"sensitive": True})


def test_sensitive_columns_are_in_no_schema_and_read_only_ones_only_read() -> None:
    assert set(schema_for(Account, mode="read").model_fields) == {
        "id",
        "login",
        "admin",
        "owner_id",
    }
    assert set(schema_for(Account, mode="read", relationships="ids").model_fields) == {
        "id",
        "login",
        "admin",
        "owner_id",
    }
    for mode in ("create", "update"):
        schema = schema_for(Account, mode=mode)
        assert set(schema.model_fields) == {"login", "owner_id"}
        with pytest.raises(pydantic.ValidationError) as info:
            schema(login="a", admin=True, secret="s")
        assert [(e["loc"], e["type"]) for e in info.value.errors()] == [
            (("admin",), "extra_forbidden"),
            (("secret",), "extra_forbidden"),
        ]
    reading = schema_for(Account, mode="read", exclude=["owner_id"])
    assert set(reading.model_fields) == {"id", "login", "admin"}  # exclude keeps them out too


def test_include_brings_guarded_fields_back() -> None:
    create = schema_for(Account, mode="create", include=["login", "secret", "admin"])
    assert create(login="a", secret="s", admin=True).model_dump() == {
        "login": "a",
        "secret": "s",
        "admin": True,
    }
    read = schema_for(Account, mode="read", include=["id", "owner"], relationships="ids")
    assert set(read.model_fields) == {"id", "owner"}
    assert "secret" not in schema_for(Account, mode="read", include=["id", "login"]).model_fields
    both = schema_for(Account, mode="create", include=["secret"], exclude=["secret"])
    assert both.model_fields == {}  # exclude wins, as for any field


def test_plain_models_are_unaffected() -> None:
    assert set(schema_for(Post, mode="update").model_fields) == {
        "title",
        "price",
        "color",
        "kind",
        "note",
        "created",
        "writer_id",
    }


class Article(Base):
    __tablename__ = "sch_article"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(50))
    body: Mapped[str] = mapped_column(sa.Text, deferred=True)
    summary: Mapped[str | None] = mapped_column(sa.Text, deferred=True, deferred_raiseload=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sch_writer.id"))
    author: Mapped[Writer | None] = relationship()


def test_deferred_columns_are_written_but_not_read() -> None:
    # A deferred column is loaded only when a query asks for it; reading it from a row
    # that did not is a lazy load (an error in async code), so read schemas leave it out.
    read = schema_for(Article, mode="read")
    assert set(read.model_fields) == {"id", "title", "author_id"}
    row = Article(id=1, title="Hi", author_id=None)
    assert read.model_validate(row).model_dump() == {"id": 1, "title": "Hi", "author_id": None}
    create = schema_for(Article, mode="create")
    assert set(create.model_fields) == {"title", "body", "summary", "author_id"}
    assert create.model_fields["body"].is_required()
    assert not create.model_fields["summary"].is_required()
    with pytest.raises(pydantic.ValidationError) as info:
        create(title="Hi")
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [(("body",), "missing")]
    update = schema_for(Article, mode="update")
    assert update(body="new").model_dump(exclude_unset=True) == {"body": "new"}


def test_include_brings_a_deferred_column_back() -> None:
    read = schema_for(Article, mode="read", include=["id", "body"])
    assert set(read.model_fields) == {"id", "body"}
    assert read.model_validate(Article(id=1, body="text")).model_dump() == {"id": 1, "body": "text"}
    assert "body" not in schema_for(Article, mode="read", exclude=["title"]).model_fields
