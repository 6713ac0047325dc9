"""``prow dbshell``, ``prow dumpdata`` and ``prow loaddata`` on SQLite and PostgreSQL.

The commands run in child processes, as users run them: the app module defines its own
models, and a fresh interpreter holds only those.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from tests._services import require

POSTGRES_URL = os.environ.get(
    "PROW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

SHOP = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from prow import App
from prow.db import Model


class {name}(Model):
    __tablename__ = "{table}"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(20))
    price: Mapped[int] = mapped_column(default=0)
    password_hash: Mapped[str] = mapped_column(String(100), info={{"sensitive": True}})


app = App(database_url={url!r})
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str, str]:
    """A folder with shop.py (a model of a table unique to the test), its table made."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    else:
        parsed = make_url(POSTGRES_URL)
        require("PostgreSQL", parsed.host or "127.0.0.1", parsed.port or 5432)
        url = POSTGRES_URL
    table = f"dd_item_{uuid.uuid4().hex[:8]}"
    (tmp_path / "shop.py").write_text(
        textwrap.dedent(SHOP.format(name="Item", table=table, url=url))
    )
    python(
        tmp_path,
        "import asyncio, shop\nfrom prow.db import database\n"
        "asyncio.run(database(shop.app).create_all(shop.Item))",
    )
    yield tmp_path, table, url
    python(
        tmp_path,
        f"import asyncio, shop, sqlalchemy as sa\nfrom prow.db import database\n"
        f"async def drop():\n    async with database(shop.app).engine.begin() as c:\n"
        f"        await c.execute(sa.text('DROP TABLE {table}'))\nasyncio.run(drop())",
    )


def python(folder: Path, code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env(folder), check=True, timeout=60
    )


def env(folder: Path) -> dict[str, str]:
    values = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    values["PYTHONPATH"] = str(folder)
    return values


def prow(folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prow.cli", *args],
        cwd=folder,
        env=env(folder),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def sql(folder: Path, url: str, statement: str) -> str:
    """Run ``statement`` through ``prow dbshell``: the database's own client."""
    backend = make_url(url).get_backend_name()
    extra = ["-A", "-t", "-c", statement] if backend == "postgresql" else [statement]
    result = prow(folder, "dbshell", "--app", "shop:app", "--", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_dump_then_load_gives_the_rows_back(shop: tuple[Path, str, str]) -> None:
    folder, table, url = shop
    sql(
        folder,
        url,
        f"INSERT INTO {table} (id, title, price, password_hash) VALUES "
        "(1, 'Tea <b>', 3, 'argon2$x'), (7, 'Café', 0, 'argon2$y')",
    )
    dumped = prow(folder, "dumpdata", "Item", "--app", "shop:app")
    assert dumped.returncode == 0, dumped.stderr
    objects = json.loads(dumped.stdout)
    assert objects == [
        {
            "model": table,
            "pk": 1,
            "fields": {"title": "Tea <b>", "price": 3, "password_hash": "argon2$x"},
        },
        {
            "model": table,
            "pk": 7,
            "fields": {"title": "Café", "price": 0, "password_hash": "argon2$y"},
        },
    ]  # sensitive columns too: a dump must restore logins
    fixture = folder / "fixture.json"
    assert prow(folder, "dumpdata", table, "-o", str(fixture), "--app", "shop:app").returncode == 0
    sql(
        folder,
        url,
        f"DELETE FROM {table}; INSERT INTO {table} (id, title, price, password_hash) "
        "VALUES (7, 'stale', 9, 'old')"
        if "postgres" in url
        else f"DELETE FROM {table}",
    )
    loaded = prow(folder, "loaddata", str(fixture), "--app", "shop:app")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert loaded.stdout.strip() == "Installed 2 objects from 1 fixture(s)"
    assert prow(folder, "dumpdata", "Item", "--app", "shop:app").stdout == dumped.stdout
    if "postgres" in url:  # the id sequence moved past the loaded keys
        sql(folder, url, f"INSERT INTO {table} (title, price, password_hash) VALUES ('n', 1, 'h')")
        assert sql(folder, url, f"SELECT max(id) FROM {table}") == "8"


@pytest.mark.parametrize("shop", ["sqlite"], indirect=True)  # the messages are prow's own
def test_a_bad_fixture_names_the_object_and_loads_nothing(shop: tuple[Path, str, str]) -> None:
    folder, table, url = shop
    good = {"model": table, "pk": 1, "fields": {"title": "ok", "password_hash": "h"}}
    cases = {
        json.dumps(
            [good, {"model": table, "pk": 2, "fields": {"title": 5, "password_hash": "h"}}]
        ): f"object 2 ({table}): title: Input should be a valid string",
        json.dumps(
            [good, {"model": table, "pk": 3, "fields": {"colour": "red"}}]
        ): f"object 2 ({table}): no column 'colour'",
        json.dumps(
            [{"model": "nope", "pk": 1, "fields": {}}]
        ): "object 1: no model with the table 'nope'",
        json.dumps(
            [good, {"model": table, "pk": "x", "fields": {"title": "t", "password_hash": "h"}}]
        ): f"object 2 ({table}): pk: Input should be a valid integer",
        "{not json": "- is not JSON",
    }
    for fixture, message in cases.items():
        result = prow(folder, "loaddata", "-", "--app", "shop:app", stdin=fixture)
        assert result.returncode == 1, result.stdout + result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert sql(folder, url, f"SELECT count(*) FROM {table}") == "0"  # all or nothing
    unknown = prow(folder, "dumpdata", "Nope", "--app", "shop:app")
    assert unknown.returncode == 1 and "no model 'Nope'" in unknown.stderr
