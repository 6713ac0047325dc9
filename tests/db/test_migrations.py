"""Migrations applied to real databases: SQLite always, PostgreSQL and MariaDB when reachable.

Each test runs in its own temporary folder; on a server it gets a database of its own
(created and dropped here), so its tables and ``alembic_version`` never meet another test's.
"""

from __future__ import annotations

import ast
import asyncio
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from prow.db import (
    NAMING_CONVENTION,
    Migration,
    MigrationError,
    MigrationWarning,
    makemigrations,
    migrate,
    reverting,
    showmigrations,
)


async def _execute_autocommit(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    """``database_url`` made private to this test: a fresh database on a server."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        yield database_url
        return
    name = f"prow_mig_{uuid.uuid4().hex[:10]}"
    asyncio.run(_execute_autocommit(database_url, f"CREATE DATABASE {name}"))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_execute_autocommit(database_url, f"DROP DATABASE {name}"))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path / "migrations"


@pytest.fixture
def table() -> str:
    return f"item_{uuid.uuid4().hex[:8]}"


def inspect(url: str, look: Callable[[sa.Inspector], Any]) -> Any:
    """Run ``look`` on an inspector of the database at ``url``."""

    async def go() -> Any:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda sync: look(sa.inspect(sync)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def tables(url: str) -> set[str]:
    return set(inspect(url, lambda insp: insp.get_table_names()))


def columns(url: str, name: str) -> list[str]:
    return [column["name"] for column in inspect(url, lambda insp: insp.get_columns(name))]


def indexes(url: str, name: str) -> set[str]:
    return {index["name"] for index in inspect(url, lambda insp: insp.get_indexes(name))}


def models(name: str, *extra: sa.Column[Any] | sa.Index) -> sa.MetaData:
    """A metadata with prow's naming convention holding table ``name`` (id, title) + ``extra``."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(50), nullable=False),
        *extra,
    )
    return metadata


def test_new_table_applies_and_downgrades(url: str, folder: Path, table: str) -> None:
    written = makemigrations("create items", url=url, directory=folder, models=models(table))
    assert written is not None and written.parent == folder / "versions"
    assert written.name.endswith("_create_items.py")
    assert "op.create_table" in written.read_text()
    assert table not in tables(url)  # making a migration does not apply it

    (applied,) = migrate(url=url, directory=folder)
    assert applied.message == "create items" and applied.applied
    assert columns(url, table) == ["id", "title"]

    (reverted,) = migrate("base", url=url, directory=folder)
    assert reverted == Migration(applied.revision, "create items", applied=False)
    assert table not in tables(url)


def test_new_column(url: str, folder: Path, table: str) -> None:
    makemigrations("create", url=url, directory=folder, models=models(table))
    migrate(url=url, directory=folder)
    price = sa.Column("price", sa.Integer, nullable=True)
    written = makemigrations("add price", url=url, directory=folder, models=models(table, price))
    assert written is not None and "add_column" in written.read_text()

    migrate(url=url, directory=folder)
    assert columns(url, table) == ["id", "title", "price"]
    (reverted,) = migrate("-1", url=url, directory=folder)
    assert reverted.message == "add price" and not reverted.applied
    assert columns(url, table) == ["id", "title"]


def test_renamed_index_is_a_drop_and_create_that_applies_and_downgrades(
    url: str, folder: Path, table: str
) -> None:
    def with_index(index_name: str) -> sa.MetaData:
        metadata = models(table)
        sa.Index(index_name, metadata.tables[table].c.title)
        return metadata

    old, new = f"ix_{table}_old", f"ix_{table}_new"
    makemigrations("create", url=url, directory=folder, models=with_index(old))
    migrate(url=url, directory=folder)
    assert old in indexes(url, table)

    written = makemigrations("rename index", url=url, directory=folder, models=with_index(new))
    assert written is not None
    source = written.read_text()
    assert "drop_index" in source and "create_index" in source and new in source

    migrate(url=url, directory=folder)
    assert new in indexes(url, table) and old not in indexes(url, table)
    migrate("-1", url=url, directory=folder)
    assert old in indexes(url, table) and new not in indexes(url, table)


def test_dropped_column(url: str, folder: Path, table: str) -> None:
    note = sa.Column("note", sa.String(200), nullable=True)
    makemigrations("create", url=url, directory=folder, models=models(table, note))
    migrate(url=url, directory=folder)
    assert columns(url, table) == ["id", "title", "note"]

    written = makemigrations("drop note", url=url, directory=folder, models=models(table))
    assert written is not None and "drop_column" in written.read_text()
    migrate(url=url, directory=folder)
    assert columns(url, table) == ["id", "title"]
    migrate("-1", url=url, directory=folder)
    assert columns(url, table) == ["id", "title", "note"]


def test_no_changes_writes_nothing(url: str, folder: Path, table: str) -> None:
    makemigrations("create", url=url, directory=folder, models=models(table))
    migrate(url=url, directory=folder)
    assert makemigrations("nothing", url=url, directory=folder, models=models(table)) is None
    assert len(list((folder / "versions").glob("*.py"))) == 1


def test_showmigrations_and_migrate_to_a_revision(url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=url, directory=folder, models=models(table))
    migrate(url=url, directory=folder)
    extra = sa.Column("two", sa.Integer, nullable=True)
    makemigrations("two", url=url, directory=folder, models=models(table, extra))
    first, second = showmigrations(url=url, directory=folder)
    assert (first.message, first.applied, second.message, second.applied) == (
        "one",
        True,
        "two",
        False,
    )

    second_applied = second._replace(applied=True)
    assert migrate(second.revision[:6], url=url, directory=folder) == [second_applied]
    assert migrate(first.revision, url=url, directory=folder) == [second]  # down to "one"
    assert migrate("head", url=url, directory=folder) == [second_applied]
    assert migrate("head", url=url, directory=folder) == []
    assert migrate("zero", url=url, directory=folder) == [second, first._replace(applied=False)]
    assert [entry.applied for entry in showmigrations(url=url, directory=folder)] == [False, False]
    assert "alembic_version" in tables(url)  # Alembic keeps its (now empty) bookkeeping table


# -- mistakes: one clear MigrationError each --------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"


def test_migrate_without_a_folder(sqlite_url: str, folder: Path) -> None:
    with pytest.raises(MigrationError, match=r"no migrations folder at .*prow makemigrations"):
        migrate(url=sqlite_url, directory=folder)
    with pytest.raises(MigrationError, match="no migrations folder"):
        showmigrations(url=sqlite_url, directory=folder)


def test_unknown_revision(sqlite_url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    with pytest.raises(MigrationError, match=r"unknown revision 'nope'.*showmigrations"):
        migrate("nope", url=sqlite_url, directory=folder)
    with pytest.raises(MigrationError, match="Relative revision -1"):
        migrate("-1", url=sqlite_url, directory=folder)  # nothing applied to step back from


@pytest.mark.parametrize(
    "bad_url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/test",
        "mysql+aiomysql://root@127.0.0.1:1/test",
        "sqlite+aiosqlite:////no/such/folder/db.sqlite3",
    ],
)
def test_unreachable_database(bad_url: str, folder: Path, table: str) -> None:
    with pytest.raises(MigrationError, match="cannot connect to the database") as caught:
        makemigrations("one", url=bad_url, directory=folder, models=models(table))
    assert "\n" not in str(caught.value)
    with pytest.raises(MigrationError, match="cannot connect to the database"):
        migrate(url=bad_url, directory=folder)


def test_password_is_hidden_in_connection_errors(folder: Path, table: str) -> None:
    bad = "postgresql+asyncpg://user:s3cret@127.0.0.1:1/test"
    with pytest.raises(MigrationError) as caught:
        makemigrations("one", url=bad, directory=folder, models=models(table))
    assert "s3cret" not in str(caught.value) and "***" in str(caught.value)


def test_no_models_refuses_to_drop_everything(sqlite_url: str, folder: Path) -> None:
    with pytest.raises(MigrationError, match="no models found"):
        makemigrations("empty", url=sqlite_url, directory=folder, models=sa.MetaData())


def test_database_behind_the_folder(sqlite_url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    extra = sa.Column("two", sa.Integer, nullable=True)
    with pytest.raises(MigrationError, match=r"not up to date \(1 migration.*run `prow migrate`"):
        makemigrations("two", url=sqlite_url, directory=folder, models=models(table, extra))


def test_failing_migration_sql(sqlite_url: str, folder: Path, table: str) -> None:
    written = makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    assert written is not None
    source = written.read_text().replace(
        "def upgrade() -> None:\n", "def upgrade() -> None:\n    op.execute('SELECT * FROM nope')\n"
    )
    written.write_text(source)
    revision = showmigrations(url=sqlite_url, directory=folder)[0].revision
    with pytest.raises(MigrationError) as caught:
        migrate(url=sqlite_url, directory=folder)
    message = str(caught.value)
    assert message.startswith(f"migration migrations/versions/{written.name} ({revision}) failed")
    assert "nope" in message and "fix the migration" in message and "\n" not in message


def test_database_at_a_revision_the_folder_lacks(sqlite_url: str, folder: Path, table: str) -> None:
    written = makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    migrate(url=sqlite_url, directory=folder)
    assert written is not None
    written.unlink()
    with pytest.raises(MigrationError, match="does not have"):
        showmigrations(url=sqlite_url, directory=folder)


# -- the folder prow writes, and running from async code --------------------------------------


def test_folder_layout_and_user_edits_kept(sqlite_url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    assert {path.name for path in folder.iterdir()} == {"env.py", "script.py.mako", "versions"}
    (folder / "env.py").write_text((folder / "env.py").read_text() + "\n# my edit\n")
    extra = sa.Column("two", sa.Integer, nullable=True)
    migrate(url=sqlite_url, directory=folder)
    makemigrations("two", url=sqlite_url, directory=folder, models=models(table, extra))
    assert (folder / "env.py").read_text().endswith("# my edit\n")


def test_plain_url_gets_the_async_driver(tmp_path: Path, folder: Path, table: str) -> None:
    plain = f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    makemigrations("one", url=plain, directory=folder, models=models(table))
    migrate(url=plain, directory=folder)
    assert table in tables(f"sqlite+aiosqlite:///{tmp_path / 'plain.sqlite3'}")


def test_url_from_the_environment(
    tmp_path: Path, folder: Path, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = f"sqlite+aiosqlite:///{tmp_path / 'env.sqlite3'}"
    monkeypatch.setenv("PROW_DATABASE_URL", from_env)
    makemigrations("one", directory=folder, models=models(table))
    migrate(directory=folder)
    assert table in tables(from_env)


@pytest.mark.anyio
async def test_runs_from_inside_an_event_loop(sqlite_url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    (applied,) = migrate(url=sqlite_url, directory=folder)
    assert applied.applied


# -- env.py: a few lines that call prow.db.run_env() ------------------------------------------


def alembic_config(folder: Path) -> Config:
    """Alembic's own configuration of ``folder``, as the ``alembic`` command would build it."""
    config = Config()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("path_separator", "os")
    return config


def test_env_py_is_short_and_delegates_to_prow(sqlite_url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    text = (folder / "env.py").read_text()
    assert len(text.splitlines()) <= 20
    # Apart from its docstring, the file imports run_env and calls it: the logic is prow's.
    _docstring, imports, call = ast.parse(text).body
    assert isinstance(imports, ast.ImportFrom) and imports.module == "prow.db"
    assert [alias.name for alias in imports.names] == ["run_env"]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    assert isinstance(call.value.func, ast.Name) and call.value.func.id == "run_env"
    (applied,) = migrate(url=sqlite_url, directory=folder)
    assert applied.applied and table in tables(sqlite_url)


def test_env_py_options_reach_alembic(url: str, folder: Path, table: str) -> None:
    metadata = models(table)
    sa.Table(f"{table}_legacy", metadata, sa.Column("id", sa.Integer, primary_key=True))
    folder.mkdir()
    (folder / "env.py").write_text(
        "from prow.db import run_env\n\n"
        "run_env(include_object=lambda obj, name, type_, reflected, compare_to: "
        "not name.endswith('_legacy'))\n"
    )
    makemigrations("one", url=url, directory=folder, models=metadata)
    migrate(url=url, directory=folder)
    assert table in tables(url)
    assert f"{table}_legacy" not in tables(url)


def test_env_py_run_by_alembic_uses_prows_url(
    tmp_path: Path, folder: Path, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = f"sqlite+aiosqlite:///{tmp_path / 'env.sqlite3'}"
    makemigrations("one", url=from_env, directory=folder, models=models(table))
    monkeypatch.setenv("PROW_DATABASE_URL", from_env)
    command.upgrade(alembic_config(folder), "head")  # online: no prow attributes given
    assert table in tables(from_env)
    assert [entry.applied for entry in showmigrations(directory=folder)] == [True]


def test_env_py_refuses_offline_mode(sqlite_url: str, folder: Path, table: str) -> None:
    makemigrations("one", url=sqlite_url, directory=folder, models=models(table))
    with pytest.raises(SystemExit, match=r"offline \(--sql\) mode is not set up"):
        command.upgrade(alembic_config(folder), "head", sql=True)
    assert table not in tables(sqlite_url)


# The env.py prow wrote before run_env() existed: projects keep it, so it must keep working.
LEGACY_ENV_PY = """\
from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config


def _metadata() -> Any:
    metadata = config.attributes.get("prow.metadata")
    if metadata is None:
        from prow.db import Model

        metadata = Model.metadata
    return metadata


def _url() -> Any:
    url = config.attributes.get("prow.url")
    if url is None:
        from prow.db import Database

        url = Database().url
    return url


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=_metadata(),
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("prow migrations run against a database; offline (--sql) mode is not set up")
asyncio.run(_run_online())
"""


def test_legacy_long_env_py_still_works(url: str, folder: Path, table: str) -> None:
    folder.mkdir()
    (folder / "env.py").write_text(LEGACY_ENV_PY)
    makemigrations("one", url=url, directory=folder, models=models(table))
    (applied,) = migrate(url=url, directory=folder)
    assert applied.applied and table in tables(url)
    extra = sa.Column("two", sa.Integer, nullable=True)
    makemigrations("two", url=url, directory=folder, models=models(table, extra))
    migrate(url=url, directory=folder)
    assert "two" in columns(url, table)
    assert (folder / "env.py").read_text() == LEGACY_ENV_PY


# -- a NOT NULL column added to a table with rows ---------------------------------------------


def insert_row(url: str, table: str) -> None:
    asyncio.run(_execute_autocommit(url, f"INSERT INTO {table} (id, title) VALUES (1, 'a')"))


def select_all(url: str, table: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(sa.text(f"SELECT * FROM {table}"))
                return [tuple(row) for row in result]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_not_null_column_takes_its_literal_default_as_server_default(
    url: str, folder: Path, table: str
) -> None:
    makemigrations("create", url=url, directory=folder, models=models(table))
    migrate(url=url, directory=folder)
    insert_row(url, table)
    added: list[sa.Column[Any]] = [
        sa.Column("stock", sa.Integer, nullable=False, default=0),
        sa.Column("active", sa.Boolean, nullable=False, default=True),
        sa.Column("label", sa.String(20), nullable=False, default="new"),
    ]
    metadata = models(table, *added)
    with pytest.warns(MigrationWarning) as caught:
        written = makemigrations("add", url=url, directory=folder, models=metadata)
    assert sorted(str(warning.message).split(" (")[0] for warning in caught) == [
        f"the new NOT NULL column {table}.{name} gets server_default={default}"
        for name, default in [("active", "'1'"), ("label", "'new'"), ("stock", "'0'")]
    ]
    assert written is not None and "server_default='0'" in written.read_text()
    assert all(column.server_default is None for column in added)  # the model is untouched

    migrate(url=url, directory=folder)  # the existing row gets the defaults
    assert select_all(url, table) == [(1, "a", 0, True, "new")]


def test_not_null_column_without_a_literal_default(
    sqlite_url: str, folder: Path, table: str
) -> None:
    makemigrations("create", url=sqlite_url, directory=folder, models=models(table))
    migrate(url=sqlite_url, directory=folder)
    insert_row(sqlite_url, table)
    made = sa.Column("code", sa.String(20), nullable=False, default=lambda: "x")
    with pytest.warns(MigrationWarning, match=rf"{table}.code has no server default.*nullable"):
        written = makemigrations(
            "add", url=sqlite_url, directory=folder, models=models(table, made)
        )
    assert written is not None
    revision = written.name.split("-", 1)[1].split("_", 1)[0]

    # Applying it fails, and the error names the file and says how to fix it.
    with pytest.raises(MigrationError) as caught:
        migrate(url=sqlite_url, directory=folder)
    message = str(caught.value)
    assert f"migrations/versions/{written.name} ({revision}) failed" in message
    assert "NOT NULL" in message and "server_default=" in message and "\n" not in message


def test_nullable_and_server_default_columns_are_left_alone(
    sqlite_url: str, folder: Path, table: str
) -> None:
    makemigrations("create", url=sqlite_url, directory=folder, models=models(table))
    migrate(url=sqlite_url, directory=folder)
    added = [
        sa.Column("a", sa.Integer, nullable=True, default=1),
        sa.Column("b", sa.Integer, nullable=False, server_default="5"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", MigrationWarning)
        written = makemigrations(
            "add", url=sqlite_url, directory=folder, models=models(table, *added)
        )
    assert written is not None
    assert "server_default='1'" not in written.read_text()


# -- choosing the target revision -------------------------------------------------------------


def two_revisions(url: str, folder: Path, table: str) -> tuple[Migration, Migration]:
    makemigrations("one", url=url, directory=folder, models=models(table))
    migrate(url=url, directory=folder)
    extra = sa.Column("two", sa.Integer, nullable=True)
    makemigrations("two", url=url, directory=folder, models=models(table, extra))
    migrate(url=url, directory=folder)
    first, second = showmigrations(url=url, directory=folder)
    return first, second


def test_short_revision_prefix_is_refused(sqlite_url: str, folder: Path, table: str) -> None:
    first, second = two_revisions(sqlite_url, folder, table)
    for short in (first.revision[:1], first.revision[:3]):
        with pytest.raises(MigrationError, match=r"too short.*at least 4.*prow showmigrations"):
            migrate(short, url=sqlite_url, directory=folder)
    assert all(entry.applied for entry in showmigrations(url=sqlite_url, directory=folder))
    assert migrate(first.revision[:4], url=sqlite_url, directory=folder) == [
        second._replace(applied=False)
    ]


def test_reverting_lists_what_migrate_would_revert(
    sqlite_url: str, folder: Path, table: str
) -> None:
    first, second = two_revisions(sqlite_url, folder, table)
    down = [second._replace(applied=False), first._replace(applied=False)]
    assert reverting("head", url=sqlite_url, directory=folder) == []
    assert reverting("-1", url=sqlite_url, directory=folder) == down[:1]
    assert reverting(first.revision, url=sqlite_url, directory=folder) == down[:1]
    assert reverting("zero", url=sqlite_url, directory=folder) == down
    assert reverting("base", url=sqlite_url, directory=folder) == migrate(
        "base", url=sqlite_url, directory=folder
    )


def test_steps_beyond_base(sqlite_url: str, folder: Path, table: str) -> None:
    two_revisions(sqlite_url, folder, table)
    for call in (reverting, migrate):
        with pytest.raises(MigrationError, match=r"cannot migrate -5 steps.*prow showmigrations"):
            call("-5", url=sqlite_url, directory=folder)
    assert all(entry.applied for entry in showmigrations(url=sqlite_url, directory=folder))


# -- database URLs that cannot work -----------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_url", "fragments"),
    [
        ("oracle://x/y", ["oracle database is not supported", "oracledb", "prow[postgres]"]),
        (
            "postgresql://localhost:1/shop?pool_size=abc",
            ["refused the URL's options", "pool_size", "query string"],
        ),
        ("postgresql://localhost:abc/shop", ["cannot parse the database URL"]),
    ],
)
def test_unusable_url(bad_url: str, fragments: list[str], folder: Path, table: str) -> None:
    with pytest.raises(MigrationError) as caught:
        makemigrations("one", url=bad_url, directory=folder, models=models(table))
    assert "\n" not in str(caught.value)
    for fragment in fragments:
        assert fragment in str(caught.value)
