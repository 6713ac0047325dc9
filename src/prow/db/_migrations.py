"""Migrations: Alembic driven from code, with no ``alembic.ini``.

::

    makemigrations("add items")   # autogenerate migrations/versions/<date>-<rev>_add_items.py
    migrate()                     # upgrade to the newest revision
    migrate("base")               # ...or up or down to any revision ("-1", "base", an id prefix)
    showmigrations()              # [Migration(revision, message, applied), ...], oldest first

The first ``makemigrations`` writes the project's ``migrations/`` folder: an ``env.py`` that
prow runs with the database URL and the models' metadata (``prow.db.Model.metadata`` unless
``models=`` says otherwise), async engines, ``compare_type=True`` and batch mode on SQLite.
Every failure a user can cause (no folder, unknown revision, unreachable database, a
migration's SQL refused) raises :class:`MigrationError` with a one-line message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from argparse import Namespace
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from alembic import command
from alembic.config import Config
from alembic.operations.ops import MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import MetaData, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from prow.db._database import Database
from prow.db._migration_templates import ENV_PY, SCRIPT_PY_MAKO
from prow.db._model import Model

__all__ = ["Migration", "MigrationError", "makemigrations", "migrate", "showmigrations"]

DEFAULT_DIRECTORY = "migrations"

# Revision files sort by creation time in a listing; the random revision id keeps two
# developers' migrations from colliding the way sequential numbers would.
_FILE_TEMPLATE = "%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s"

_T = TypeVar("_T")


class Migration(NamedTuple):
    """One revision of the migrations folder and whether the database has it applied."""

    revision: str
    message: str
    applied: bool


class MigrationError(Exception):
    """A migration command could not run; the message says why in one line."""


def makemigrations(
    message: str,
    *,
    url: str | None = None,
    directory: str | Path = DEFAULT_DIRECTORY,
    models: MetaData | None = None,
) -> Path | None:
    """Autogenerate a revision from the difference between the models and the database.

    Returns the new file's path, or ``None`` when nothing changed (no file is written). The
    database must be at the newest revision first (``migrate()``), as Alembic compares against it.
    """
    metadata = models if models is not None else _default_metadata()
    if not metadata.tables:
        # An empty metadata would autogenerate "drop every table": refuse instead.
        raise MigrationError(
            "no models found: import the modules that define your models before making migrations"
        )
    folder = Path(directory)
    _write_folder(folder)
    config, script = _open(folder, url, metadata)
    _applied(script, _current_heads(config))
    with _alembic_errors():
        written = _in_thread(
            lambda: command.revision(
                config, message, autogenerate=True, process_revision_directives=_skip_empty
            )
        )
    if not written or isinstance(written, list):
        return None
    return Path(written.path)


def migrate(
    target: str = "head",
    *,
    url: str | None = None,
    directory: str | Path = DEFAULT_DIRECTORY,
) -> list[Migration]:
    """Upgrade or downgrade the database to ``target``; returns the revisions that changed.

    ``target`` is ``"head"``, ``"base"`` (or ``"zero"``), a revision id or a unique prefix of
    one, or a relative step such as ``"-1"`` / ``"+1"``. A revision already applied means "go
    down to it" (everything after it is reverted); one not yet applied means "go up to it".
    """
    config, script = _open(Path(directory), url, None)
    target = "base" if target == "zero" else target
    before = _applied(script, _current_heads(config))
    step = command.downgrade if _goes_down(script, target, before) else command.upgrade
    with _alembic_errors():
        _in_thread(lambda: step(config, target))
    after = _applied(script, _current_heads(config))
    changed = [
        entry for entry in _history(script, after) if (entry.revision in before) != entry.applied
    ]
    going_down = bool(before - after)
    return list(reversed(changed)) if going_down else changed


def showmigrations(
    *, url: str | None = None, directory: str | Path = DEFAULT_DIRECTORY
) -> list[Migration]:
    """Every revision in the migrations folder, oldest first, with whether it is applied."""
    config, script = _open(Path(directory), url, None)
    return _history(script, _applied(script, _current_heads(config)))


# -- the migrations folder and Alembic's configuration ----------------------------------------


def _write_folder(folder: Path) -> None:
    """Create ``folder`` with prow's env.py and revision template, keeping existing files."""
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    for name, text in (("env.py", ENV_PY), ("script.py.mako", SCRIPT_PY_MAKO)):
        path = folder / name
        if not path.exists():
            path.write_text(text, encoding="utf-8")


def _open(
    folder: Path, url: str | None, metadata: MetaData | None
) -> tuple[Config, ScriptDirectory]:
    """Alembic's Config for ``folder`` (built in code) and the folder's revisions."""
    if not (folder / "env.py").is_file():
        raise MigrationError(
            f"no migrations folder at {folder}: run `prow makemigrations -m MESSAGE` first"
        )
    config = Config(cmd_opts=Namespace(quiet=True))
    # Config options go through ConfigParser interpolation, hence the doubled percent signs.
    config.set_main_option("script_location", str(folder.resolve()).replace("%", "%%"))
    config.set_main_option("file_template", _FILE_TEMPLATE.replace("%", "%%"))
    config.set_main_option("truncate_slug_length", "40")
    config.set_main_option("path_separator", "os")
    config.attributes["prow.url"] = _resolve_url(url)
    config.attributes["prow.metadata"] = metadata
    with _alembic_errors():
        script = ScriptDirectory.from_config(config)
    return config, script


def _default_metadata() -> MetaData:
    return Model.metadata


def _resolve_url(url: str | None) -> str:
    """The async URL migrations use: ``url``, else the one prow's ``Database`` resolves."""
    return Database(url).url


def _skip_empty(context: Any, revision: Any, directives: list[MigrationScript]) -> None:
    """Write no file when autogenerate found no difference (Alembic would write an empty one)."""
    upgrade_ops = directives[0].upgrade_ops
    if upgrade_ops is not None and upgrade_ops.is_empty():
        directives[:] = []


# -- reading the database's state -------------------------------------------------------------


def _current_heads(config: Config) -> tuple[str, ...]:
    """The revisions recorded in the database's ``alembic_version`` table (none if absent)."""
    url: str = config.attributes["prow.url"]

    def read(connection: Connection) -> tuple[str, ...]:
        return MigrationContext.configure(connection).get_current_heads()

    async def connect() -> tuple[str, ...]:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    safe = make_url(url).render_as_string(hide_password=True)
    _check_sqlite_folder(url, safe)
    try:
        return _in_thread(lambda: asyncio.run(connect()))
    except (OSError, DBAPIError) as exc:
        raise MigrationError(f"cannot connect to the database {safe}: {_reason(exc)}") from exc


def _check_sqlite_folder(url: str, safe: str) -> None:
    """Fail early for a SQLite file in a missing folder.

    aiosqlite's worker thread outlives a failed connect and reports to an event loop that
    is closed by then; checking first keeps that noise away and names the real problem.
    """
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if path.startswith("file:"):  # a URI filename; sqlite resolves it itself
        return
    folder = Path(path).parent
    if not folder.is_dir():
        raise MigrationError(f"cannot connect to the database {safe}: no folder {folder}")


def _applied(script: ScriptDirectory, heads: tuple[str, ...]) -> set[str]:
    """Every revision the database has: its heads and all their ancestors."""
    if not heads:
        return set()
    try:
        return {rev.revision for rev in script.iterate_revisions(heads, "base") if rev}
    except RevisionError as exc:
        raise MigrationError(
            f"the database is at revision {', '.join(heads)}, which the migrations folder "
            f"does not have ({exc})"
        ) from exc


def _history(script: ScriptDirectory, applied: set[str]) -> list[Migration]:
    revisions = list(script.walk_revisions())
    revisions.reverse()
    return [
        Migration(rev.revision, (rev.doc or "").strip(), rev.revision in applied)
        for rev in revisions
    ]


def _goes_down(script: ScriptDirectory, target: str, applied: set[str]) -> bool:
    """Whether reaching ``target`` means reverting revisions rather than applying them."""
    if target == "base" or target.startswith("-"):
        return True
    if target in ("head", "heads") or target.startswith("+") or "@" in target:
        return False
    try:
        revision = script.get_revision(target)
    except (RevisionError, CommandError) as exc:
        raise MigrationError(
            f"unknown revision {target!r} ({exc}); `prow showmigrations` lists them"
        ) from exc
    if revision is None:
        raise MigrationError(f"unknown revision {target!r}; `prow showmigrations` lists them")
    return revision.revision in applied


# -- running Alembic --------------------------------------------------------------------------


@contextmanager
def _alembic_errors() -> Iterator[None]:
    """Turn Alembic's and the database's refusals into one-line :class:`MigrationError`."""
    try:
        yield
    except (CommandError, RevisionError) as exc:
        raise MigrationError(str(exc)) from exc
    except DBAPIError as exc:
        raise MigrationError(f"the migration failed: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).strip() or type(original).__name__
    return text.splitlines()[0]


def _in_thread(func: Callable[[], _T]) -> _T:
    """Run ``func`` here, or in a worker thread if this thread runs an event loop.

    env.py (and the state queries) start their own event loop with ``asyncio.run``, which
    cannot nest inside a running one, e.g. when a migration runs from an async test or hook.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return func()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(func).result()
