"""prow.db.Model: table names, constraint names, and tables that really get created."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable

import pytest
from sqlalchemy import CheckConstraint, ForeignKey, String, func, inspect, select
from sqlalchemy.orm import Mapped, declared_attr, has_inherited_table, mapped_column, relationship

from prow.db import NAMING_CONVENTION, Database, Model, table_name_for


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


class TmPuppy(TmDog):
    __mapper_args__ = {"polymorphic_identity": "puppy"}  # noqa: RUF012


class TmVehicle(Model):
    __tablename__ = "tm_vehicles"  # chosen, not derived
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "vehicle"}  # noqa: RUF012


class TmBike(TmVehicle):
    gears: Mapped[int | None]  # a column of tm_vehicles, null for other kinds
    __mapper_args__ = {"polymorphic_identity": "bike"}  # noqa: RUF012


class TmTandem(TmBike):
    __mapper_args__ = {"polymorphic_identity": "tandem"}  # noqa: RUF012


class TmLorry(TmVehicle):  # joined-table by its own key, without naming its table
    id: Mapped[int] = mapped_column(ForeignKey("tm_vehicles.id"), primary_key=True)
    payload: Mapped[int]
    __mapper_args__ = {"polymorphic_identity": "lorry"}  # noqa: RUF012


class TmBoat(TmVehicle):  # joined-table, its table named
    __tablename__ = "tm_boats"
    id: Mapped[int] = mapped_column(ForeignKey("tm_vehicles.id"), primary_key=True)
    __mapper_args__ = {"polymorphic_identity": "boat"}  # noqa: RUF012


class TmCat(TmAnimal):  # joined-table under a derived table name
    id: Mapped[int] = mapped_column(ForeignKey("tm_animal.id"), primary_key=True)
    __mapper_args__ = {"polymorphic_identity": "cat"}  # noqa: RUF012


class TmPluralNames:
    """A project's own naming directive, as a mixin: prow's Model must not override it."""

    @declared_attr.directive
    @classmethod
    def __tablename__(cls) -> str | None:
        return None if has_inherited_table(cls) else f"{table_name_for(cls.__name__)}s"


class TmShape(TmPluralNames, Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "shape"}  # noqa: RUF012


class TmSquare(TmShape):
    __mapper_args__ = {"polymorphic_identity": "square"}  # noqa: RUF012


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


def where_clause(model: type[Model]) -> str:
    return str(select(model).compile(compile_kwargs={"literal_binds": True})).split("WHERE")[-1]


@pytest.mark.parametrize(
    ("model", "parent", "kinds"),
    [
        (TmDog, TmAnimal, "'dog', 'puppy'"),
        (TmPuppy, TmAnimal, "'puppy'"),
        (TmBike, TmVehicle, "'bike', 'tandem'"),
        (TmTandem, TmVehicle, "'tandem'"),
        (TmSquare, TmShape, "'square'"),
    ],
)
def test_subclass_is_single_table_whatever_its_parents_table_is_called(
    model: type[Model], parent: type[Model], kinds: str
) -> None:
    mapper = inspect(model)
    assert mapper.single
    assert mapper.local_table is parent.__table__
    assert model.__tablename__ is None
    # Its queries select its own kinds of row only.
    assert where_clause(model).strip() == f"{parent.__tablename__}.kind IN ({kinds})"


def test_named_parent_keeps_its_name_and_its_subclass_adds_columns_to_it() -> None:
    assert TmVehicle.__tablename__ == "tm_vehicles"
    assert TmBike.__table__ is TmVehicle.__table__
    assert "gears" in TmVehicle.__table__.c
    assert TmShape.__table__.name == "tm_shapes"  # a project's naming directive still decides


@pytest.mark.parametrize(
    ("model", "table", "parent_table"),
    [
        (TmLorry, "tm_lorry", "tm_vehicles"),
        (TmBoat, "tm_boats", "tm_vehicles"),
        (TmCat, "tm_cat", "tm_animal"),
    ],
)
def test_subclass_with_its_own_key_or_name_gets_its_own_table(
    model: type[Model], table: str, parent_table: str
) -> None:
    mapper = inspect(model)
    assert not mapper.single
    assert mapper.local_table.name == table == model.__tablename__
    assert {fk.column.table.name for fk in mapper.local_table.foreign_keys} == {parent_table}
    assert f"FROM {parent_table} JOIN {table} ON {parent_table}.id = {table}.id" in str(
        select(model)
    )


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


def test_inheritance_under_a_named_table_on_each_database(
    database_url: str, make_tables: Callable[..., None]
) -> None:
    make_tables(database_url, TmVehicle, TmLorry, TmBoat)
    asyncio.run(_check_inheritance(database_url))


async def _check_inheritance(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session:
            session.add_all(
                [
                    TmVehicle(id=1),
                    TmBike(id=2, gears=3),
                    TmTandem(id=3, gears=21),
                    TmLorry(id=4, payload=9),
                    TmBoat(id=5),
                ]
            )
            await session.commit()
        async with db.session() as session:
            bikes = (await session.scalars(select(TmBike).order_by(TmBike.id))).all()
            assert [(type(b), b.id) for b in bikes] == [(TmBike, 2), (TmTandem, 3)]
            assert await session.scalar(select(func.count()).select_from(TmBike)) == 2
            assert await session.scalar(select(func.count()).select_from(TmVehicle)) == 5
            lorry = (await session.scalars(select(TmLorry))).one()
            assert (lorry.id, lorry.kind, lorry.payload) == (4, "lorry", 9)
            kinds = await session.scalars(select(TmVehicle.kind).order_by(TmVehicle.id))
            assert kinds.all() == ["vehicle", "bike", "tandem", "lorry", "boat"]
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
