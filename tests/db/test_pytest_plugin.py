"""prow's pytest plugin (the ``prow`` pytest11 entry point), run for real through ``pytester``.

Each scenario is a small test project run by a child pytest with the plugin enabled; the
outer test asserts its outcomes, then checks from outside that nothing it wrote persisted.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import text

from prow.db import NAMING_CONVENTION, Database, makemigrations

pytest_plugins = ["pytester"]

PLUGIN = "prow"  # the entry point's name: what `-p prow` and `-p no:prow` refer to
DOCS = Path(__file__).resolve().parents[2] / "docs"
TABLES = ("plugin_author", "book")


def plugin_args() -> list[str]:
    """``-p prow`` when pytest does not load installed plugins by itself."""
    installed = {entry.name for entry in importlib.metadata.entry_points(group="pytest11")}
    assert PLUGIN in installed, "installing prow registers its pytest plugin"
    return ["-p", PLUGIN] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []


def docs_block(page: str, first_line: str) -> str:
    """The ```` ```python ```` block of ``docs/page`` whose first line is ``first_line``."""
    source = (DOCS / page).read_text(encoding="utf-8")
    for block in re.findall(r"^```python\n(.*?)^```$", source, flags=re.DOTALL | re.MULTILINE):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"docs/{page} has no python block starting with {first_line!r}")


async def _row_counts(url: str, tables: tuple[str, ...]) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return {
                table: (
                    await connection.execute(text(f"SELECT COUNT(*) FROM {table}"))
                ).scalar_one()
                for table in tables
            }
    finally:
        await db.dispose()


async def _drop(url: str, tables: tuple[str, ...]) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            for table in tables:
                await connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    finally:
        await db.dispose()


@pytest.fixture
def plugin_url(database_url: str) -> Iterator[str]:
    """The database URL for a scenario; its tables are dropped before and after."""
    asyncio.run(_drop(database_url, (*TABLES, "alembic_version")))
    yield database_url
    asyncio.run(_drop(database_url, (*TABLES, "alembic_version")))


CONFTEST = """
import os

import pytest
from pydantic import BaseModel
from sqlalchemy import String, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from prow import App, HTTPError
from prow.db import Connection, DBSession, Model, get_or_404


class PlAuthor(Model):
    __tablename__ = "plugin_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class AuthorIn(BaseModel):
    name: str


authors = App(database_url=os.environ["PLUGIN_TEST_URL"])


@authors.get("/authors")
async def names(session: DBSession) -> list[str]:
    return list(await session.scalars(select(PlAuthor.name).order_by(PlAuthor.name)))


@authors.post("/authors", status_code=201)
async def add(data: AuthorIn, session: DBSession) -> dict[str, object]:
    author = PlAuthor(name=data.name)
    session.add(author)
    await session.flush()
    return {"id": author.id, "name": author.name}


@authors.patch("/authors/{author_id}")
async def rename(author_id: int, data: AuthorIn, session: DBSession) -> str:
    author = await get_or_404(session, PlAuthor, author_id)
    author.name = data.name
    return author.name


@authors.post("/core/authors", status_code=201)
async def add_core(data: AuthorIn, connection: Connection, fail: bool = False) -> int:
    result = await connection.execute(insert(PlAuthor.__table__).values(name=data.name))
    if fail:
        raise HTTPError(400, "refused after writing")
    return result.inserted_primary_key[0]


@authors.get("/core/authors")
async def core_names(connection: Connection) -> list[str]:
    return list(await connection.scalars(select(PlAuthor.name).order_by(PlAuthor.name)))


@authors.post("/core/authors/commit-first", status_code=201)
async def commit_first(data: AuthorIn, connection: Connection, fail: bool = False) -> bool:
    await connection.execute(insert(PlAuthor.__table__).values(name=data.name))
    await connection.commit()  # stays, whatever happens next
    await connection.execute(insert(PlAuthor.__table__).values(name=f"{data.name} 2"))
    if fail:
        raise HTTPError(400, "refused after a commit")
    return connection.in_transaction()


@authors.post("/core/authors/second-thoughts", status_code=201)
async def second_thoughts(data: AuthorIn, connection: Connection) -> list[str]:
    await connection.execute(insert(PlAuthor.__table__).values(name=f"{data.name} draft"))
    await connection.rollback()
    await connection.execute(insert(PlAuthor.__table__).values(name=data.name))
    return await core_names(connection)


@authors.post("/core/authors/blocks", status_code=201)
async def blocks(data: AuthorIn, connection: Connection, fail: bool = False) -> list[str]:
    async with connection.begin():  # committed when the block ends
        await connection.execute(insert(PlAuthor.__table__).values(name=data.name))
    transaction = await connection.begin()
    await connection.execute(insert(PlAuthor.__table__).values(name=f"{data.name} draft"))
    await transaction.rollback()
    try:
        async with connection.begin():
            await connection.execute(insert(PlAuthor.__table__).values(name=data.name))
    except IntegrityError:
        pass  # the duplicate is rolled back with its block
    if fail:
        raise HTTPError(400, "refused after the blocks")
    return await core_names(connection)


@pytest.fixture
def app():
    return authors


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

SYNC_TESTS = """
from sqlalchemy import func, select

from conftest import PlAuthor


def test_the_app_sees_the_tests_rows(client, db):
    db.add(PlAuthor(name="ann"))
    db.commit()
    assert client.get("/authors").json() == ["ann"]


def test_flushed_rows_are_visible_too(client, db):
    db.add(PlAuthor(name="ann"), PlAuthor(name="bob"))
    db.flush()
    assert client.get("/authors").json() == ["ann", "bob"]


def test_the_test_sees_the_apps_commits(client, db):
    assert client.post("/authors", json={"name": "cy"}).status_code == 201
    assert db.scalars(select(PlAuthor.name)).all() == ["cy"]


def test_a_handler_may_commit_itself(client, db):
    assert client.post("/core/authors/commit-first", json={"name": "ida"}).json() is True
    refused = client.post("/core/authors/commit-first?fail=true", json={"name": "jo"})
    assert refused.status_code == 400
    # What the handler committed stays; what followed its commit in the failed request does not.
    expected = ["ida", "ida 2", "jo"]
    assert db.scalars(select(PlAuthor.name).order_by(PlAuthor.name)).all() == expected
    assert client.get("/core/authors").json() == expected


def test_a_handler_may_roll_back_its_own_work_only(client, db):
    db.add(PlAuthor(name="ann"))
    db.flush()
    answer = client.post("/core/authors/second-thoughts", json={"name": "kim"})
    assert answer.status_code == 201, answer.text
    assert answer.json() == ["ann", "kim"]
    assert db.scalars(select(PlAuthor.name).order_by(PlAuthor.name)).all() == ["ann", "kim"]


def test_a_handler_may_begin_its_own_transactions(client, db):
    answer = client.post("/core/authors/blocks", json={"name": "lee"})
    assert answer.status_code == 201, answer.text
    assert answer.json() == ["lee"]
    # A block's commit stays even when the request fails afterwards, as in production.
    refused = client.post("/core/authors/blocks?fail=true", json={"name": "max"})
    assert refused.status_code == 400
    assert db.scalars(select(PlAuthor.name).order_by(PlAuthor.name)).all() == ["lee", "max"]


def test_rows_do_not_leak_between_tests(client, db):
    assert client.get("/authors").json() == []
    assert db.scalar(select(func.count()).select_from(PlAuthor)) == 0


def test_a_failed_request_undoes_only_its_own_work(client, db):
    db.add(PlAuthor(name="ann"))
    db.flush()
    duplicate = client.post("/authors", json={"name": "ann"})
    assert duplicate.status_code == 409, duplicate.text
    assert client.post("/authors", json={"name": "dee"}).status_code == 201
    assert client.get("/authors").json() == ["ann", "dee"]


def test_core_connections_share_the_tests_transaction(client, db):
    db.add(PlAuthor(name="ann"))
    db.flush()
    assert client.get("/core/authors").json() == ["ann"]
    assert client.post("/core/authors", json={"name": "bea"}).status_code == 201
    refused = client.post("/core/authors?fail=true", json={"name": "cat"})
    assert refused.status_code == 400
    assert client.get("/authors").json() == ["ann", "bea"]  # the session sees them too
    assert db.scalars(select(PlAuthor.name).order_by(PlAuthor.name)).all() == ["ann", "bea"]


def test_refresh_get_run_and_delete(client, db):
    author = PlAuthor(name="eve")
    db.add(author)
    db.commit()
    assert client.patch(f"/authors/{author.id}", json={"name": "eva"}).json() == "eva"
    db.refresh(author)
    assert author.name == "eva"
    assert db.get(PlAuthor, author.id) is author

    async def names(session):
        return (await session.scalars(select(PlAuthor.name))).all()

    assert db.run(names) == ["eva"]
    db.delete(author)
    db.commit()
    assert client.get("/authors").json() == []
    assert db.execute(select(PlAuthor.id)).all() == []
"""

ASYNC_TESTS = """
import pytest
from sqlalchemy import select

from conftest import PlAuthor

pytestmark = pytest.mark.anyio


async def test_the_async_pair_shares_a_transaction(async_client, db_session):
    db_session.add(PlAuthor(name="fay"))
    await db_session.commit()
    assert (await async_client.get("/authors")).json() == ["fay"]
    assert (await async_client.post("/authors", json={"name": "gil"})).status_code == 201
    found = await db_session.scalars(select(PlAuthor.name).order_by(PlAuthor.name))
    assert found.all() == ["fay", "gil"]


async def test_an_async_handler_commit_stays_in_the_test(async_client, db_session):
    answer = await async_client.post("/core/authors/commit-first", json={"name": "ned"})
    assert answer.json() is True
    found = await db_session.scalars(select(PlAuthor.name).order_by(PlAuthor.name))
    assert found.all() == ["ned", "ned 2"]


async def test_async_rows_do_not_leak(async_client, db_session):
    assert (await async_client.get("/authors")).json() == []
    assert (await async_client.get("/core/authors")).json() == []
"""


def test_each_test_runs_in_a_transaction_that_is_rolled_back(
    pytester: pytest.Pytester, plugin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLUGIN_TEST_URL", plugin_url)
    monkeypatch.setenv("PROW_DATABASE_URL", plugin_url)  # for the docs example's App()
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_async=ASYNC_TESTS,
        test_sync=SYNC_TESTS,
        test_docs_example=docs_block("database.md", "# test_books.py"),
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=16, warnings=0)
    # The app committed in several tests; none of it reached the database.
    assert asyncio.run(_row_counts(plugin_url, TABLES)) == {"plugin_author": 0, "book": 0}


def test_tables_come_from_migrations_when_configured(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'migrated.sqlite3'}"
    monkeypatch.setenv("PLUGIN_TEST_URL", url)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nprow_migrations = migrations\n")
    pytester.makepyfile(
        test_migrated="""
        from sqlalchemy import text

        def test_the_migration_made_the_table(client, db):
            assert db.scalar(text("SELECT COUNT(*) FROM alembic_version")) == 1
            assert client.post("/authors", json={"name": "hal"}).status_code == 201
        """
    )
    makemigrations(
        "authors",
        url=url,
        directory=pytester.path / "migrations",
        models=_author_metadata(),
    )
    result = pytester.runpytest_subprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=0)
    assert asyncio.run(_row_counts(url, ("plugin_author",))) == {"plugin_author": 0}


def _author_metadata() -> sa.MetaData:
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    sa.Table(
        "plugin_author",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), unique=True),
    )
    return metadata


APP_MODULE = """
from prow import App

app = App()


@app.get("/")
async def index() -> str:
    return "from the ini"
"""


def test_the_app_can_come_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(appmod=APP_MODULE)
    pytester.makeini("[pytest]\nprow_app = appmod:app\n")
    pytester.makepyfile(
        test_ini="""
        def test_index(client):
            assert client.get("/").json() == "from the ini"
        """
    )
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_app_can_come_from_the_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(envapp=APP_MODULE)
    monkeypatch.setenv("PROW_APP", "envapp")  # no ":attr": the attribute is `app`
    pytester.makepyfile(
        test_env="""
        def test_index(client):
            assert client.get("/").text == '"from the ini"'
        """
    )
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_missing_or_wrong_app_fails_with_a_clear_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROW_APP", raising=False)
    pytester.makepyfile(notapp="app = 42\n")
    pytester.makepyfile(
        test_missing="""
        def test_needs_an_app(client):
            pass
        """
    )
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*define an `app` fixture in conftest.py*"])

    for spec, message in (
        ("notapp:app", "*'notapp:app' is a int, not a prow App*"),
        ("nosuchmodule:app", "*cannot load the app 'nosuchmodule:app'*"),
    ):
        monkeypatch.setenv("PROW_APP", spec)
        result = pytester.runpytest_inprocess(*plugin_args(), "-p", "no:cacheprovider")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([message])


def test_mixing_the_sync_and_async_fixtures_is_refused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(appmod=APP_MODULE)
    pytester.makeini("[pytest]\nprow_app = appmod:app\n")
    pytester.makepyfile(
        test_mixed="""
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        def test_sync_client_with_async_session(client, db_session):
            pass

        @pytest.mark.anyio
        async def test_async_client_with_sync_session(async_client, db):
            pass
        """
    )
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*the db_session fixture cannot be used with client*",
            "*the db fixture cannot be used with async_client*",
        ]
    )


def test_the_testing_docs_example(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example=docs_block("testing.md", "# test_app.py"))
    result = pytester.runpytest_inprocess(*plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_importing_prow_testing_loads_neither_pytest_plugin_nor_sqlalchemy(
    pytester: pytest.Pytester,
) -> None:
    script = textwrap.dedent(
        """
        import sys
        import prow.testing
        print(sorted(n for n in ("sqlalchemy", "pytest") if n in sys.modules))
        """
    )
    result = pytester.run(sys.executable, "-c", script)
    assert result.ret == 0
    assert result.outlines[-1] == "[]"
