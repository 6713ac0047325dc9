"""prow.db.Model: table names, constraint names, and tables that really get created."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import CheckConstraint, ForeignKey, String, inspect, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prow.db import NAMING_CONVENTION, Database, Model
from prow.db._model import table_name_for


class TmAuthor(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100), unique=True)
    nickname: Mapped[str | None] = mapped_column(String(50), index=True)
    posts: Mapped[list[TmBlogPost]] = relationship(back_populates="author")


class TmBlogPost(Model):
    __table_args__ = (CheckConstraint("length(title) > 0", name="title_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int] = mapped_column(ForeignKey("tm_author.id"))
    author: Mapped[TmAuthor] = relationship(back_populates="posts")


class TmCustomName(Model):
    __tablename__ = "tm_chosen_name"
    id: Mapped[int] = mapped_column(primary_key=True)


class TmAnimal(Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "animal"}  # noqa: RUF012


class TmDog(TmAnimal):
    __mapper_args__ = {"polymorphic_identity": "dog"}  # noqa: RUF012 (SQLAlchemy's spelling)


@pytest.mark.parametrize(
    ("name", "table"),
    [
        ("BlogPost", "blog_post"),
        ("User", "user"),
        ("HTTPLog", "http_log"),
        ("APIKey2", "api_key2"),
        ("Item3D", "item3_d"),
        ("already_snake", "already_snake"),
    ],
)
def test_table_name_is_snake_case_of_the_class_name(name: str, table: str) -> None:
    assert table_name_for(name) == table


def test_models_get_table_names() -> None:
    assert TmBlogPost.__tablename__ == "tm_blog_post"
    assert TmBlogPost.__table__.name == "tm_blog_post"
    assert TmCustomName.__table__.name == "tm_chosen_name"


def test_subclass_of_a_model_shares_its_table() -> None:
    assert TmDog.__table__ is TmAnimal.__table__
    assert TmDog.__tablename__ is None


def test_constraints_follow_the_naming_convention() -> None:
    author, post = TmAuthor.__table__, TmBlogPost.__table__
    assert author.primary_key.name == "pk_tm_author"
    assert {c.name for c in author.constraints} >= {"pk_tm_author", "uq_tm_author_email"}
    assert {i.name for i in author.indexes} == {"ix_tm_author_nickname"}
    names = {c.name for c in post.constraints}
    assert "fk_tm_blog_post_author_id_tm_author" in names
    assert "ck_tm_blog_post_title_not_empty" in names
    assert Model.metadata.naming_convention == {
        "ix": NAMING_CONVENTION["ix"],
        "uq": NAMING_CONVENTION["uq"],
        "ck": NAMING_CONVENTION["ck"],
        "fk": NAMING_CONVENTION["fk"],
        "pk": NAMING_CONVENTION["pk"],
    }


def test_repr_shows_loaded_columns_only() -> None:
    author = TmAuthor(id=1, email="ada@example.com")
    assert repr(author) == "TmAuthor(id=1, email='ada@example.com')"


def test_tables_are_created_with_their_names_on_each_database(
    database_url: str, make_tables: Callable[..., None]
) -> None:
    make_tables(database_url, TmAuthor, TmBlogPost, TmAnimal)
    asyncio.run(_check_tables(database_url))


async def _check_tables(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            seen = await connection.run_sync(_schema_names)
        assert {"tm_author", "tm_blog_post", "tm_animal"} <= seen["tables"]
        assert "uq_tm_author_email" in seen["unique"]
        assert "ix_tm_author_nickname" in seen["indexes"]
        assert "fk_tm_blog_post_author_id_tm_author" in seen["fks"]
        async with db.session() as session:
            session.add_all([TmDog(id=1), TmAuthor(id=1, email="a@example.com")])
            session.add(TmBlogPost(id=1, title="Hello", author_id=1))
            await session.commit()
        async with db.session() as session:
            dog = (await session.execute(select(TmAnimal))).scalar_one()
            assert isinstance(dog, TmDog)
            post = await session.get(TmBlogPost, 1)
            assert post is not None
            author = await post.awaitable_attrs.author  # AsyncAttrs: lazy loads await
            assert author.email == "a@example.com"
    finally:
        await db.dispose()


def _schema_names(connection: object) -> dict[str, set[str]]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    unique = {c["name"] for c in inspector.get_unique_constraints("tm_author") if c["name"]}
    # MySQL reports a unique constraint as a unique index.
    indexes = {i["name"] for i in inspector.get_indexes("tm_author") if i["name"]}
    fks = {f["name"] for f in inspector.get_foreign_keys("tm_blog_post") if f["name"]}
    return {"tables": tables, "unique": unique | indexes, "indexes": indexes, "fks": fks}


def test_import_prow_does_not_import_sqlalchemy() -> None:
    code = "import sys, prow, prow.testing; print('sqlalchemy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
