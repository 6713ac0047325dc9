"""Database commands: ``prow makemigrations``, ``prow migrate``, ``prow showmigrations``.

SQLAlchemy and Alembic are imported when one of these commands runs, not when the ``prow``
group is built, so the rest of the CLI works without the ``db`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLIError

if TYPE_CHECKING:
    from prow import App

__all__ = ["makemigrations", "migrate", "showmigrations"]

_F = TypeVar("_F", bound=Callable[..., Any])

_DB_PACKAGES = frozenset({"sqlalchemy", "alembic", "aiosqlite", "asyncpg", "aiomysql", "greenlet"})


def _database_options(func: _F) -> _F:
    """The options every database command shares: --app, --database-url, --directory."""
    func = click.option(
        "--directory",
        default="migrations",
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The migrations folder.",
    )(func)
    func = click.option(
        "--database-url",
        metavar="URL",
        help="The database to use [default: the app's database, else PROW_DATABASE_URL, "
        "else ./prow.sqlite3].",
    )(func)
    return app_option(func)


@click.command()
@click.option("-m", "--message", required=True, help="What the migration does, e.g. 'add items'.")
@_database_options
def makemigrations(
    message: str, app_path: str | None, database_url: str | None, directory: Path
) -> None:
    """Write a migration for every change made to the models since the last one.

    The database must be up to date first (prow migrate): the new migration is the
    difference between the models and the database. Nothing is written when nothing changed.

    \b
    Examples:
      prow makemigrations -m "add items"
      prow makemigrations -m "add price" --app myproject.main:app
    """
    api, url = _prepare(app_path, database_url)
    with _migration_errors(api):
        written = api.makemigrations(message, url=url, directory=directory)
    if written is None:
        click.echo("No changes detected.")
    else:
        click.echo(f"Created {_shown(written)}")


@click.command()
@click.argument("revision", default="head")
@_database_options
def migrate(revision: str, app_path: str | None, database_url: str | None, directory: Path) -> None:
    """Bring the database to REVISION (default: the newest), applying or reverting migrations.

    REVISION is head, base (or zero: revert everything), a revision id or a unique prefix of
    one, or a relative step such as -1 or +1. A revision already applied means "go back to it".

    \b
    Examples:
      prow migrate                 # apply every pending migration
      prow migrate 3f2a            # go up or down to revision 3f2a...
      prow migrate -- -1           # revert the last migration
      prow migrate zero            # revert every migration
    """
    api, url = _prepare(app_path, database_url)
    with _migration_errors(api):
        changed = api.migrate(revision, url=url, directory=directory)
    if not changed:
        click.echo("No migrations to apply.")
    for entry in changed:
        verb = "Applied " if entry.applied else "Reverted"
        click.echo(f"{verb} {entry.revision}  {entry.message}")


@click.command()
@_database_options
def showmigrations(app_path: str | None, database_url: str | None, directory: Path) -> None:
    """List the migrations, oldest first: [X] applied, [ ] pending.

    \b
    Examples:
      prow showmigrations
      prow showmigrations --database-url postgresql://localhost/shop
    """
    api, url = _prepare(app_path, database_url)
    with _migration_errors(api):
        entries = api.showmigrations(url=url, directory=directory)
    if not entries:
        click.echo(f"No migrations in {_shown(directory)}.")
    for entry in entries:
        click.echo(f"[{'X' if entry.applied else ' '}] {entry.revision}  {entry.message}")


def _prepare(app_path: str | None, database_url: str | None) -> tuple[Any, str]:
    """The migrations API, and the URL to migrate after importing the app (and its models)."""
    app = load_app(app_path)
    api = _migrations_api()
    return api, database_url or _app_database_url(app)


def _migrations_api() -> ModuleType:
    try:
        from prow.db import _migrations
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] in _DB_PACKAGES:
            raise CLIError(
                f"the database commands need the db extra ({exc.name} is missing): "
                "pip install 'prow[db]'"
            ) from None
        raise
    return _migrations


def _app_database_url(app: App) -> str:
    """The app's database (``use_database``/``App(database_url=)``, else the environment)."""
    from prow.db import database

    return database(app).url


@contextmanager
def _migration_errors(api: Any) -> Iterator[None]:
    try:
        yield
    except api.MigrationError as exc:
        raise CLIError(str(exc)) from None


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when it is inside it."""
    absolute = path.resolve()
    return (
        str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else str(path)
    )
