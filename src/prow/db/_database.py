"""``Database``: where the data lives — its URL, its engine and pool, its sessions.

The URL is resolved once, when the ``Database`` is made: the explicit argument, else
the app's ``database_url`` setting, else ``PROW_DATABASE_URL``, else a SQLite file
(so a fresh checkout runs with no server). The engine is created on first use.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import MetaData, Table, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from prow._exceptions import ConfigurationError
from prow.db._errors import guard_engine, install_error_handlers
from prow.db._model import Model
from prow.db._timeouts import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_POOL_TIMEOUT,
    DEFAULT_STATEMENT_TIMEOUT,
    bound_statements,
    checked_timeouts,
    timeout_options,
)

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["DEFAULT_DATABASE_URL", "ENV_VAR", "Database", "async_url", "database", "use_database"]

#: The URL used when nothing else is configured: a SQLite file in the working directory.
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./prow.sqlite3"
#: The environment variable read when neither the code nor the app names a URL.
ENV_VAR = "PROW_DATABASE_URL"

# Plain URLs name a backend without a driver; prow talks to each through its asyncio driver.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "mysql": "mysql+aiomysql",
    "mariadb": "mariadb+aiomysql",
}
# The extra that installs each backend's driver, for the "missing driver" message.
_EXTRAS = {"sqlite": "db", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}

_STATE_KEY = "prow_database"


def async_url(url: str | URL) -> URL:
    """Parse ``url`` and give a driver-less backend its asyncio driver.

    ``postgresql://`` -> ``postgresql+asyncpg://``, ``sqlite:///`` -> ``sqlite+aiosqlite:///``,
    ``mysql://`` -> ``mysql+aiomysql://``; a URL naming its driver is kept as it is.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            "prow.E501",
            f"cannot parse the database URL {str(url)!r}; "
            "write it as dialect://user:password@host:port/name, e.g. sqlite:///./app.sqlite3",
        ) from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is not None:
        parsed = parsed.set(drivername=driver)
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        raise ConfigurationError(
            "prow.E502",
            f"unknown database {parsed.drivername!r} in the database URL; "
            "prow supports sqlite, postgresql and mysql/mariadb",
        ) from None
    return parsed


def resolve_url(url: str | URL | None, setting: str | None = None) -> URL:
    """The URL to use: ``url``, else ``setting``, else ``$PROW_DATABASE_URL``, else the default."""
    chosen = url or setting or os.environ.get(ENV_VAR) or DEFAULT_DATABASE_URL
    return async_url(chosen)


class Database:
    """A database: its URL, a lazily created ``AsyncEngine`` and a session factory.

    ::

        db = Database("postgresql://app@localhost/app", pool_size=10)
        async with db.session() as session:
            ...
        await db.dispose()

    For a database server the pool checks a connection before lending it
    (``pool_pre_ping``), so after the server restarts the next request gets a fresh
    connection instead of an error. SQLite skips the check: a file cannot restart.

    Nothing waits forever on a database that is down or frozen: opening a connection
    (``connect_timeout``), waiting for a pooled one (``pool_timeout``) and running one
    statement (``statement_timeout``) each give up after their seconds, and the request
    is answered 503 with ``Retry-After``. ``None`` switches a limit off. How each reaches
    the driver is in :func:`timeout_options`.
    """

    def __init__(
        self,
        url: str | URL | None = None,
        *,
        echo: bool = False,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
        pool_recycle: int | None = None,
        connect_args: dict[str, Any] | None = None,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
    ) -> None:
        self._url = resolve_url(url)
        timeouts = checked_timeouts(
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            statement_timeout=statement_timeout,
        )
        options: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_recycle": pool_recycle,
        }
        self._options = {key: value for key, value in options.items() if value is not None}
        self._options.update(timeout_options(self._url, connect_args=connect_args, **timeouts))
        self._options["echo"] = echo
        self._statement_timeout = statement_timeout
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_loop: dict[asyncio.AbstractEventLoop, AsyncEngine] = {}
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The resolved URL (with its async driver), password included."""
        return self._url.render_as_string(hide_password=False)

    @property
    def backend(self) -> str:
        """``"sqlite"``, ``"postgresql"``, ``"mysql"`` or ``"mariadb"``."""
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"Database({self._url.render_as_string(hide_password=True)!r})"

    @property
    def engine(self) -> AsyncEngine:
        """The ``AsyncEngine`` of the running event loop, created on first use."""
        loop = _running_loop()
        if loop is not None and loop is not self._loop:
            self._enter_loop(loop)
        if self._engine is None:
            self._engine = self._create_engine()
            if loop is not None:
                self._by_loop[loop] = self._engine
        return self._engine

    def _enter_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        # Pooled connections belong to the loop that opened them, and a loop may end
        # without the app's shutdown running (a test client used without ``with``
        # runs each request in its own loop). So each loop gets its own engine, and
        # a watcher task closes that engine's connections when the loop ends.
        if self._loop is not None:
            self._sessionmaker = None
            # Back on a loop seen before (two clients taking turns): its engine is still
            # open and watched; replacing it would leak its pooled connections.
            self._engine = self._by_loop.get(loop)
            if self._engine is not None:
                self._loop = loop
                return
        elif self._engine is not None:
            self._by_loop[loop] = self._engine  # made before any loop ran: adopt it
        self._loop = loop
        watcher = loop.create_task(self._close_with_loop(loop))
        self._watchers.add(watcher)  # the loop keeps only a weak reference to tasks
        watcher.add_done_callback(self._watchers.discard)

    async def _close_with_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            await asyncio.Event().wait()  # until the loop cancels its tasks to close
        finally:
            engine = self._by_loop.pop(loop, None)
            if self._loop is loop:
                self._loop, self._engine, self._sessionmaker = None, None, None
            if engine is not None:
                await engine.dispose()

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The factory of ``AsyncSession`` objects bound to :attr:`engine`."""
        engine = self.engine
        if self._sessionmaker is None:
            # Objects stay readable after commit: the response is rendered after it.
            self._sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        return self._sessionmaker

    def session(self) -> AsyncSession:
        """A new ``AsyncSession``; use it as ``async with db.session() as session:``."""
        return self.sessionmaker()

    async def dispose(self) -> None:
        """Close every pooled connection; the next use opens new ones."""
        loop = _running_loop()
        # Close this loop's engine: another loop's connections can only be closed there.
        engine = self._by_loop.pop(loop, None) if loop is not None else None
        if self._loop in (None, loop):
            engine = engine or self._engine
            self._engine = self._sessionmaker = None
        if engine is not None:
            await engine.dispose()

    async def create_all(
        self, *models: type[Model] | Table, metadata: MetaData | None = None
    ) -> None:
        """Create the tables of ``models`` (default: every table of ``metadata``/``Model``).

        For tests and quick starts; a project keeps its schema with migrations.
        """
        meta, tables = _tables(models, metadata)
        async with self.engine.begin() as connection:
            await connection.run_sync(meta.create_all, tables=tables)

    async def drop_all(
        self, *models: type[Model] | Table, metadata: MetaData | None = None
    ) -> None:
        """Drop the tables of ``models`` (default: every table of ``metadata``/``Model``)."""
        meta, tables = _tables(models, metadata)
        async with self.engine.begin() as connection:
            await connection.run_sync(meta.drop_all, tables=tables)

    def _create_engine(self) -> AsyncEngine:
        try:
            # The ping is a round trip per request: worth it where a server can restart
            # behind the pool's back, wasted on a SQLite file, whose connection cannot go stale.
            ping = self.backend != "sqlite"
            engine = _create_async_engine(self._url, pool_pre_ping=ping, **self._options)
        except ModuleNotFoundError as exc:
            extra = _EXTRAS.get(self.backend, "db")
            raise ConfigurationError(
                "prow.E503",
                f"the {self._url.drivername} database driver is not installed ({exc.name}); "
                f"install it with: pip install 'prow[{extra}]'",
            ) from exc
        except TypeError as exc:
            raise ConfigurationError(
                "prow.E504", f"the {self.backend} database does not accept these options: {exc}"
            ) from exc
        guard_engine(engine)
        bound_statements(engine, self._statement_timeout)
        if self.backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores foreign keys unless asked, per connection; without this a
    # dangling reference would be stored silently instead of answered 409.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _tables(
    models: tuple[type[Model] | Table, ...], metadata: MetaData | None
) -> tuple[MetaData, list[Table] | None]:
    meta = metadata if metadata is not None else Model.metadata
    if not models:
        return meta, None
    tables = [
        model if isinstance(model, Table) else cast(Table, model.__table__) for model in models
    ]
    return tables[0].metadata, tables


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def database(app: App) -> Database:
    """The app's ``Database``, made on first use from ``app.database_url`` (or the defaults).

    Making it also installs the database error answers (404/409/503) and closes the
    pool when the app shuts down.
    """
    if _STATE_KEY in app.state:
        found: Database = getattr(app.state, _STATE_KEY)
        return found
    return use_database(app)


def use_database(app: App, url: str | URL | None = None, **options: Any) -> Database:
    """Configure the app's ``Database`` explicitly (URL and pool options); returns it.

    ``url`` defaults to ``app.database_url``, then ``PROW_DATABASE_URL``, then SQLite.
    Call it while setting the app up, before it serves requests.
    """
    db = Database(url or getattr(app, "database_url", None), **options)
    first = _STATE_KEY not in app.state
    setattr(app.state, _STATE_KEY, db)
    if first:
        install_error_handlers(app)

        async def dispose_database() -> None:
            current: Database = getattr(app.state, _STATE_KEY)
            await current.dispose()

        app.on_shutdown(dispose_database)
    return db
