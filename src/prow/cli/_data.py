"""``prow dbshell``, ``prow dumpdata`` and ``prow loaddata``, as Django users know them.

``dbshell`` starts the database's own client (``sqlite3``, ``psql``, ``mariadb``/``mysql``)
on the app's database. ``dumpdata`` writes rows as a JSON fixture — a list of
``{"model": TABLE, "pk": KEY, "fields": {...}}`` — and ``loaddata`` reads one back through
the models' schemas (the same validation as the API: a wrong type is refused naming the
object and the field), inserting or updating by primary key in one transaction. Every
column is dumped, sensitive ones included (a password hash must survive a dump and a load):
treat a fixture of real data as a secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLIError

if TYPE_CHECKING:
    from prow import App

__all__ = ["dbshell", "dumpdata", "loaddata"]


# -- dbshell -----------------------------------------------------------------------------------


@click.command(context_settings={"ignore_unknown_options": True})
@app_option
@click.argument("client_args", nargs=-1, type=click.UNPROCESSED)
def dbshell(app_path: str | None, client_args: tuple[str, ...]) -> None:
    """Open the database's own command-line client on the app's database.

    sqlite3 for SQLite, psql for PostgreSQL, mariadb (or mysql) for MariaDB/MySQL; the
    password goes through the client's environment variable, never its command line.
    Arguments after -- go to the client.

    \b
    Examples:
      prow dbshell
      prow dbshell -- -c "select count(*) from note"      # PostgreSQL
    """
    from sqlalchemy.engine import make_url

    from prow.db import database

    url = make_url(database(load_app(app_path)).url)
    argv, env = _client(url.get_backend_name(), url)
    if shutil.which(argv[0]) is None:
        raise CLIError(f"the {argv[0]} command is not installed: install the database client")
    command = [*argv, *client_args]  # the user's own client, on the user's own database
    result = subprocess.run(command, env={**os.environ, **env}, check=False)  # noqa: S603
    sys.exit(result.returncode)


def _client(backend: str, url: Any) -> tuple[list[str], dict[str, str]]:
    if backend == "sqlite":
        return ["sqlite3", url.database or ":memory:"], {}
    env = {}
    if backend == "postgresql":
        argv = ["psql", "-h", url.host or "localhost", "-d", url.database or "postgres"]
        argv += ["-p", str(url.port)] if url.port else []
        argv += ["-U", url.username] if url.username else []
        if url.password:
            env["PGPASSWORD"] = url.password
        return argv, env
    if backend in ("mysql", "mariadb"):
        program = "mariadb" if shutil.which("mariadb") else "mysql"
        argv = [program, "-h", url.host or "localhost"]
        argv += ["-P", str(url.port)] if url.port else []
        argv += ["-u", url.username] if url.username else []
        argv += [url.database] if url.database else []
        if url.password:
            env["MYSQL_PWD"] = url.password
        return argv, env
    raise CLIError(f"prow dbshell does not know the client of {backend} databases")


# -- dumpdata / loaddata -------------------------------------------------------------------------


@click.command()
@app_option
@click.argument("models", nargs=-1)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
def dumpdata(
    app_path: str | None, models: tuple[str, ...], output: Path | None, indent: int
) -> None:
    """Write the rows of MODELS (class or table names; default: all) as a JSON fixture.

    Rows come in an order loaddata can insert them in (tables before the tables that
    refer to them), each table by primary key.

    \b
    Examples:
      prow dumpdata > everything.json
      prow dumpdata Note auth_user -o fixtures/demo.json
    """
    app = load_app(app_path)
    chosen = _chosen_models(models)
    objects = asyncio.run(_dump(app, chosen))
    text = json.dumps(objects, indent=indent or None, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {len(objects)} objects to {output}", err=True)


@click.command()
@app_option
@click.argument("fixtures", nargs=-1, required=True, type=click.Path(dir_okay=False))
def loaddata(app_path: str | None, fixtures: tuple[str, ...]) -> None:
    """Insert or update the rows of JSON FIXTURES (as dumpdata writes them), all or none.

    Each object is validated with its model's schema; a row whose primary key exists is
    updated. On PostgreSQL the id sequences are moved past the loaded keys, so the next
    insert does not collide. "-" reads standard input.

    \b
    Examples:
      prow loaddata fixtures/demo.json
    """
    app = load_app(app_path)
    objects: list[Any] = []
    for fixture in fixtures:
        objects += _read_fixture(fixture)
    count = asyncio.run(_load(app, objects))
    click.echo(
        f"Installed {count} object{'s' if count != 1 else ''} from {len(fixtures)} fixture(s)"
    )


def _read_fixture(name: str) -> list[Any]:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise CLIError(f"cannot read {name}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise CLIError(f"{name} is not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, list):
        raise CLIError(f"{name} must hold a JSON list of objects, as prow dumpdata writes")
    return data


def _all_models() -> dict[str, type[Any]]:
    """Every mapped model, by table name, in the order rows can be inserted."""
    from prow.db import Model

    by_table = {mapper.class_.__table__.name: mapper.class_ for mapper in Model.registry.mappers}
    order = [table.name for table in Model.metadata.sorted_tables if table.name in by_table]
    return {name: by_table[name] for name in order}


def _chosen_models(names: Iterable[str]) -> dict[str, type[Any]]:
    known = _all_models()
    wanted = list(names)
    if not wanted:
        return known
    by_class = {cls.__name__: table for table, cls in known.items()}
    tables = set()
    for name in wanted:
        table = name if name in known else by_class.get(name)
        if table is None:
            raise CLIError(
                f"no model {name!r}: give a class or table name ({', '.join(known) or 'none'})"
            )
        tables.add(table)
    return {table: cls for table, cls in known.items() if table in tables}


def _columns(model: type[Any]) -> list[str]:
    from sqlalchemy import inspect

    return [column.key for column in inspect(model).column_attrs]


def _primary_key(model: type[Any]) -> list[str]:
    from sqlalchemy import inspect

    mapper = inspect(model)
    return [mapper.get_property_by_column(column).key for column in mapper.primary_key]


async def _dump(app: App, models: dict[str, type[Any]]) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from prow.db import database, schema_for

    objects: list[dict[str, Any]] = []
    try:
        async with database(app).session() as session:
            for table, model in models.items():
                columns, keys = _columns(model), _primary_key(model)
                schema = schema_for(model, mode="read", include=columns, name=f"{table}Fixture")
                query = select(model).order_by(*(getattr(model, key) for key in keys))
                for row in await session.scalars(query):
                    fields = schema.model_validate(row).model_dump(mode="json")
                    pk = [fields.pop(key) for key in keys]
                    objects.append(
                        {"model": table, "pk": pk[0] if len(pk) == 1 else pk, "fields": fields}
                    )
    finally:
        await app.release()
    return objects


async def _load(app: App, objects: Sequence[Any]) -> int:
    from prow.db import database

    known = _all_models()
    rows = [_row(index, item, known) for index, item in enumerate(objects)]
    db = database(app)
    try:
        async with db.session() as session:
            for row in rows:
                await session.merge(row)
            await session.flush()
            if session.get_bind().dialect.name == "postgresql":
                await _reset_sequences(session, {type(row) for row in rows})
            await session.commit()
    except Exception as exc:
        from sqlalchemy.exc import IntegrityError

        if isinstance(exc, IntegrityError):
            raise CLIError(f"the fixture breaks a constraint: {exc.orig}") from None
        raise
    finally:
        await app.release()
    return len(rows)


def _row(index: int, item: Any, known: dict[str, type[Any]]) -> Any:
    import pydantic
    from sqlalchemy import inspect

    from prow.db import schema_for
    from prow.db._schemas import column_python_type

    where = f"object {index + 1}"
    if not isinstance(item, dict) or not isinstance(item.get("fields", {}), dict):
        raise CLIError(f"{where}: expected {{'model': ..., 'pk': ..., 'fields': {{...}}}}")
    table = item.get("model")
    model = known.get(table) if isinstance(table, str) else None
    if model is None:
        raise CLIError(f"{where}: no model with the table {table!r}")
    where = f"{where} ({table})"
    fields: dict[str, Any] = dict(item.get("fields", {}))
    columns = _columns(model)
    unknown = sorted(set(fields) - set(columns))
    if unknown:
        raise CLIError(f"{where}: no column {', '.join(map(repr, unknown))}")
    # The create schema checks the values as the API does; it leaves out what the database
    # makes (the autoincrement key, computed columns): the key is checked on its own below.
    schema = schema_for(model, mode="create", include=columns, name=f"{table}FixtureIn")
    given = {name: value for name, value in fields.items() if name in schema.model_fields}
    try:
        data = schema.model_validate(given).model_dump(exclude_unset=True)
        pk = item.get("pk")
        mapper = inspect(model)
        for key, value in zip(
            _primary_key(model), pk if isinstance(pk, list) else [pk], strict=False
        ):
            column = mapper.columns[key]
            if value is not None:
                data[key] = pydantic.TypeAdapter(column_python_type(column)).validate_python(value)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "pk"
        raise CLIError(f"{where}: {field}: {first['msg']}") from None
    return model(**data)


async def _reset_sequences(session: Any, models: set[type[Any]]) -> None:
    """Move each serial/identity sequence past the largest key loaded (PostgreSQL only)."""
    from sqlalchemy import Integer, func, select

    for model in models:
        table = model.__table__
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = await session.scalar(
                select(func.pg_get_serial_sequence(table.name, column.name))
            )
            if sequence is not None:
                top = func.max(column)
                moved = func.setval(sequence, func.coalesce(top, 1), top.is_not(None))
                await session.execute(select(moved).select_from(table))
