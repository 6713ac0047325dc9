"""Database commands: ``prow makemigrations``, ``prow migrate``, ``prow showmigrations``.

SQLAlchemy and Alembic are imported when one of these commands runs, not when the ``prow``
group is built, so the rest of the CLI works without the ``db`` extra.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLICommand, CLIError

if TYPE_CHECKING:
    from prow import App

__all__ = ["makemigrations", "migrate", "showmigrations"]

_F = TypeVar("_F", bound=Callable[..., Any])

_DB_PACKAGES = frozenset({"sqlalchemy", "alembic", "aiosqlite", "asyncpg", "aiomysql", "greenlet"})

_STEP = re.compile(r"[-+]\d+")


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


class _MigrateCommand(CLICommand):
    """``migrate``, whose REVISION may be a step such as ``-1`` written anywhere.

    Click would read ``-1`` as an unknown option; it is moved behind ``--`` (which makes it
    an argument) before parsing, so ``prow migrate -1 --app shop:app`` works as written, as
    does the older ``prow migrate -- -1 --app shop:app``.
    """

    _VALUED = frozenset({"--app", "--database-url", "--directory"})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._step_last(args))

    def _step_last(self, args: list[str]) -> list[str]:
        rest = list(args)
        if "--" in rest:
            dashes = rest.index("--")
            if dashes + 1 < len(rest) and _STEP.fullmatch(rest[dashes + 1]):
                step = rest[dashes + 1]
                del rest[dashes : dashes + 2]
                return [*rest, "--", step]
            return rest
        for index, arg in enumerate(rest):
            follows_option = index > 0 and rest[index - 1] in self._VALUED
            if arg.startswith("-") and _STEP.fullmatch(arg) and not follows_option:
                return [*rest[:index], *rest[index + 1 :], "--", arg]
        return rest


@click.command(cls=CLICommand)
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
    with _migration_errors(api), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", api.MigrationWarning)
        written = api.makemigrations(message, url=url, directory=directory)
    for warning in caught:
        if issubclass(warning.category, api.MigrationWarning):
            click.echo(f"Warning: {warning.message}", err=True)
    if written is None:
        click.echo("No changes detected.")
    else:
        click.echo(f"Created {_shown(written)}")


@click.command(cls=_MigrateCommand)
@click.argument("revision", default="head")
@click.option("-y", "--yes", is_flag=True, help="Revert migrations without asking first.")
@_database_options
def migrate(
    revision: str, yes: bool, app_path: str | None, database_url: str | None, directory: Path
) -> None:
    """Bring the database to REVISION (default: the newest), applying or reverting migrations.

    REVISION is head, base (or zero: revert everything), a revision id or a unique prefix of
    one (at least 4 characters), or a relative step such as -1 or +1. A revision already
    applied means "go back to it". Before reverting, the migrations to revert are listed
    and, at a terminal, you are asked to confirm (--yes skips the question).

    \b
    Examples:
      prow migrate                 # apply every pending migration
      prow migrate 3f2a            # go up or down to revision 3f2a...
      prow migrate -1              # revert the last migration
      prow migrate zero --yes      # revert every migration, without asking
    """
    api, url = _prepare(app_path, database_url)
    with _migration_errors(api):
        _confirm_reverting(api.reverting(revision, url=url, directory=directory), yes)
        changed = api.migrate(revision, url=url, directory=directory)
    if not changed:
        click.echo("No migrations to apply.")
    for entry in changed:
        verb = "Applied " if entry.applied else "Reverted"
        click.echo(f"{verb} {entry.revision}  {entry.message}")


@click.command(cls=CLICommand)
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


def _confirm_reverting(reverted: list[Any], yes: bool) -> None:
    """List what is about to be reverted; at a terminal, ask first unless ``--yes``."""
    if not reverted:
        return
    click.echo(f"Reverting {len(reverted)} migration(s), newest first:")
    for entry in reverted:
        click.echo(f"  {entry.revision}  {entry.message}")
    if not yes and _interactive():
        click.confirm("Revert them?", abort=True)


def _interactive() -> bool:
    """Whether a person can answer a question (not a script, a pipe or CI)."""
    return sys.stdin.isatty()


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
