"""Migrations: Alembic driven from code, with no ``alembic.ini``.

::

    makemigrations("add items")   # autogenerate migrations/versions/<date>-<rev>_add_items.py
    migrate()                     # upgrade to the newest revision
    migrate("base")               # ...or up or down to any revision ("-1", "base", an id prefix)
    reverting("-1")               # what migrate("-1") would revert, newest first
    showmigrations()              # [Migration(revision, message, applied), ...], oldest first

The first ``makemigrations`` writes the project's ``migrations/`` folder: a short ``env.py``
that calls :func:`run_env`, which prow runs with the database URL and the models' metadata
(``prow.db.Model.metadata`` unless ``models=`` says otherwise), async engines,
``compare_type=True`` and batch mode on SQLite.
Every failure a user can cause (no folder, unknown revision, unreachable database, a
migration's SQL refused) raises :class:`MigrationError` with a one-line message. A new
migration that would fail on a table with rows (a NOT NULL column without a server default)
is reported by a :class:`MigrationWarning` when it is written.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import traceback
import warnings
from argparse import Namespace
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from alembic import command, context
from alembic.config import Config
from alembic.operations.ops import AddColumnOp, MigrationScript
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Column, DefaultClause, MetaData, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from prow.db._database import _EXTRAS, Database
from prow.db._migration_templates import ENV_PY, SCRIPT_PY_MAKO
from prow.db._model import Model

__all__ = [
    "Migration",
    "MigrationError",
    "MigrationWarning",
    "makemigrations",
    "migrate",
    "reverting",
    "run_env",
    "showmigrations",
]

DEFAULT_DIRECTORY = "migrations"

# Revision files sort by creation time in a listing; the random revision id keeps two
# developers' migrations from colliding the way sequential numbers would.
_FILE_TEMPLATE = "%(year)d_%(month).2d_%(day).2d_%(hour).2d%(minute).2d-%(rev)s_%(slug)s"

# A shorter prefix of a revision id is too easily typed by mistake (``migrate 3`` for "three
# steps"), and silently going up or down to whichever revision it matched is destructive.
MIN_PREFIX = 4

_T = TypeVar("_T")


class Migration(NamedTuple):
    """One revision of the migrations folder and whether the database has it applied."""

    revision: str
    message: str
    applied: bool


class MigrationError(Exception):
    """A migration command could not run; the message says why in one line."""


class MigrationWarning(UserWarning):
    """A migration was written that is likely to fail when applied; the message says why."""


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
    _check_up_to_date(script, _current_heads(config))
    with _alembic_errors():
        written = _in_thread(
            lambda: command.revision(
                config, message, autogenerate=True, process_revision_directives=_review
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
    target = _checked_target(script, target)
    before = _applied(script, _current_heads(config))
    step = command.downgrade if _goes_down(script, target, before) else command.upgrade
    with _alembic_errors(script, target):
        _in_thread(lambda: step(config, target))
    after = _applied(script, _current_heads(config))
    changed = [
        entry for entry in _history(script, after) if (entry.revision in before) != entry.applied
    ]
    going_down = bool(before - after)
    return list(reversed(changed)) if going_down else changed


def reverting(
    target: str, *, url: str | None = None, directory: str | Path = DEFAULT_DIRECTORY
) -> list[Migration]:
    """The migrations ``migrate(target)`` would revert, newest first (none if it goes up)."""
    config, script = _open(Path(directory), url, None)
    target = _checked_target(script, target)
    heads = _current_heads(config)
    applied = _applied(script, heads)
    if not _goes_down(script, target, applied):
        return []
    with _alembic_errors(script, target):
        scripts = list(script.iterate_revisions(heads, target, select_for_downgrade=True))
    return [Migration(rev.revision, (rev.doc or "").strip(), False) for rev in scripts if rev]


def showmigrations(
    *, url: str | None = None, directory: str | Path = DEFAULT_DIRECTORY
) -> list[Migration]:
    """Every revision in the migrations folder, oldest first, with whether it is applied."""
    config, script = _open(Path(directory), url, None)
    return _history(script, _applied(script, _current_heads(config)))


#: Tables prow's batteries make for themselves, outside any model (the PostgreSQL channel
#: backend's history): autogenerate must not propose dropping them.
UNMANAGED_TABLES = frozenset({"prow_channel_messages"})


def _managed(name: str | None, type_: str, _parents: Any) -> bool:
    return not (type_ == "table" and name in UNMANAGED_TABLES)


def run_env(**options: Any) -> None:
    """Run Alembic's environment: the whole body of a project's ``migrations/env.py``.

    Migrates the database that ``prow makemigrations`` / ``prow migrate`` name (run by the
    ``alembic`` command instead: prow's own URL, ``PROW_DATABASE_URL`` else ``./prow.sqlite3``)
    through an async engine, comparing with their models' metadata (else
    ``prow.db.Model.metadata``). ``options`` go to Alembic's ``context.configure()`` on top of
    prow's ``compare_type=True`` and batch mode on SQLite: e.g. ``include_object=`` to leave
    some tables alone. Offline (``--sql``) mode is refused: prow migrates a live database.
    """
    if context.is_offline_mode():
        raise SystemExit(
            "prow migrations run against a database; offline (--sql) mode is not set up"
        )
    config = context.config
    url = config.attributes.get("prow.url") or Database().url
    metadata = config.attributes.get("prow.metadata")
    if metadata is None:
        metadata = _default_metadata()

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            **{
                "compare_type": True,
                # SQLite cannot ALTER most things in place: batch mode copies the table instead.
                "render_as_batch": connection.dialect.name == "sqlite",
                "include_name": _managed,
                **options,
            },
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(run)
        finally:
            await engine.dispose()

    asyncio.run(run_online())


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
    try:
        return Database(url).url
    except ValueError as exc:  # e.g. a port that is not a number
        raise MigrationError(f"cannot parse the database URL: {_reason(exc)}") from None


def _review(context: Any, revision: Any, directives: list[MigrationScript]) -> None:
    """Adjust what autogenerate found before it is written.

    No file when nothing changed (Alembic would write an empty one); and a NOT NULL column
    added to an existing table gets a server default, which the rows already there need.
    """
    upgrade_ops = directives[0].upgrade_ops
    if upgrade_ops is None or upgrade_ops.is_empty():
        directives[:] = []
        return
    for op in _walk(upgrade_ops.ops):
        if isinstance(op, AddColumnOp):
            _give_server_default(op)


def _walk(ops: list[Any]) -> Iterator[Any]:
    for op in ops:
        yield op
        yield from _walk(getattr(op, "ops", []))


def _give_server_default(op: AddColumnOp) -> None:
    """Make a new NOT NULL column addable to a table with rows, or warn that it is not.

    Without a server default, the database has nothing to put in the rows already there and
    refuses the column. The model's ``default=`` is Python-side only; a plain literal one is
    what those rows should get, so it becomes the column's ``server_default`` here.
    """
    column = op.column
    if column.nullable or column.primary_key or column.server_default is not None:
        return
    literal = _sql_literal(column)
    name = f"{op.table_name}.{column.name}"
    if literal is None:
        warnings.warn(
            f"the new NOT NULL column {name} has no server default, so adding it to a table "
            "that has rows will fail: give it server_default= in the model (e.g. "
            "mapped_column(server_default='0')) and in the new migration's add_column, "
            "or make it nullable",
            MigrationWarning,
            stacklevel=2,
        )
        return
    copy: Column[Any] = column._copy()  # the model's own column must stay as it is declared
    copy.server_default = DefaultClause(literal)
    op.column = copy
    warnings.warn(
        f"the new NOT NULL column {name} gets server_default={literal!r} (from its default=) "
        "so that existing rows have a value",
        MigrationWarning,
        stacklevel=2,
    )


def _sql_literal(column: Column[Any]) -> str | None:
    """The column's Python ``default=`` as SQL default text, when it is a plain literal."""
    default = column.default
    if default is None or not default.is_scalar:
        return None
    value = getattr(default, "arg", None)
    if isinstance(value, bool):  # before int: True is an int; '1'/'0' every backend reads
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str) and "'" not in value:
        return value
    return None


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
    except ModuleNotFoundError as exc:
        raise MigrationError(_missing_driver(url, exc)) from exc
    except (TypeError, ValueError) as exc:
        # The URL's query string goes to the driver's connect() as keyword arguments.
        raise MigrationError(
            f"cannot connect to the database {safe}: the driver refused the URL's options "
            f"({_reason(exc)}); check the query string after '?'"
        ) from exc


def _missing_driver(url: str, exc: ModuleNotFoundError) -> str:
    backend = make_url(url).get_backend_name()
    if backend in _EXTRAS:
        return (
            f"the {backend} database driver is not installed ({exc.name}): "
            f"pip install 'prow[{_EXTRAS[backend]}]'"
        )
    return (
        f"the {backend} database is not supported by prow (its driver {exc.name} is not "
        "installed); prow supports sqlite, postgresql (pip install 'prow[postgres]') and "
        "mysql/mariadb (pip install 'prow[mysql]')"
    )


def _check_up_to_date(script: ScriptDirectory, heads: tuple[str, ...]) -> None:
    """Refuse to autogenerate against a database that lacks some migrations.

    The new migration would repeat the changes of the ones not applied yet.
    """
    applied = _applied(script, heads)
    pending = [rev for rev in script.walk_revisions() if rev.revision not in applied]
    if pending:
        raise MigrationError(
            f"the database is not up to date ({len(pending)} migration(s) not applied): "
            "run `prow migrate` first, then make the new migration"
        )


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


def _checked_target(script: ScriptDirectory, target: str) -> str:
    """``target`` with ``zero`` spelled ``base``; a revision prefix must be long enough."""
    if target == "zero":
        return "base"
    symbolic = target in ("head", "heads", "base") or target[:1] in ("-", "+") or "@" in target
    if symbolic or len(target) >= MIN_PREFIX:
        return target
    if any(rev.revision == target for rev in script.walk_revisions()):
        return target
    raise MigrationError(
        f"revision {target!r} is too short: give at least {MIN_PREFIX} characters of a "
        "revision id (`prow showmigrations` lists them), or a step such as -1"
    )


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
def _alembic_errors(
    script: ScriptDirectory | None = None, target: str | None = None
) -> Iterator[None]:
    """Turn Alembic's and the database's refusals into one-line :class:`MigrationError`.

    With the ``script`` folder being migrated, a failed migration is named by its file.
    """
    try:
        yield
    except (CommandError, RevisionError) as exc:
        text = _reason(exc)
        if target is not None and target[:1] in ("-", "+"):
            text = f"cannot migrate {target} steps: {text}; `prow showmigrations` lists them"
        raise MigrationError(text) from exc
    except DBAPIError as exc:
        raise MigrationError(_failure(exc, script)) from exc


def _failure(exc: DBAPIError, script: ScriptDirectory | None) -> str:
    """``"migration <file> (<rev>) failed: <reason>; <how to fix it>"``."""
    reason = _reason(exc)
    if "null" in reason.lower():
        hint = (
            "a NOT NULL column added to a table with rows needs a server default: give it "
            "server_default= (or make it nullable) in the model and in the migration"
        )
    else:
        hint = "fix the migration"
    failed = _failed_revision(exc, script)
    if failed is None:
        return f"the migration failed: {reason}; {hint}, then run `prow migrate` again"
    where = f"{_shown(Path(failed.path))} ({failed.revision})"
    return f"migration {where} failed: {reason}; {hint}, then run `prow migrate` again"


def _failed_revision(exc: BaseException, script: ScriptDirectory | None) -> Any:
    """The revision whose ``upgrade()``/``downgrade()`` raised ``exc``: its frame is in the
    traceback, running the revision's own file."""
    if script is None:
        return None
    by_path = {str(Path(rev.path).resolve()): rev for rev in script.walk_revisions()}
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        found = by_path.get(str(Path(frame.filename).resolve()))
        if found is not None:
            return found
    return None


def _shown(path: Path) -> str:
    absolute = path.resolve()
    cwd = Path.cwd()
    return str(absolute.relative_to(cwd)) if absolute.is_relative_to(cwd) else str(path)


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
