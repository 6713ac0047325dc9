"""``Database``: where the data lives — its URL, its engine and pool, its sessions.

The URL is resolved once, when the ``Database`` is made: the explicit argument, else
the app's ``database_url`` setting, else ``PROW_DATABASE_URL``, else a SQLite file
(so a fresh checkout runs with no server). The engine is created on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import warnings
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import MetaData, Table, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from prow._exceptions import ConfigurationError
from prow.db import _lean as lean
from prow.db._at_commit import commit_connection_class
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
from prow.extensions import Extension

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["DEFAULT_DATABASE_URL", "ENV_VAR", "Database", "async_url", "database", "use_database"]

#: The URL used when nothing else is configured: a SQLite file in the working directory.
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./prow.sqlite3"
#: Connections a pool keeps open, and how many more it opens in a burst (per worker process).
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 0
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

logger = logging.getLogger("prow.db")


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


class Database(Extension):
    """A database as an app's battery: its URL, one ``AsyncEngine`` and its sessions.

    ::

        app = App(extensions=[Database("postgresql://app@localhost/app", pool_size=10)])

        db = Database("sqlite:///./app.sqlite3")      # or on its own, in a script
        async with db.session() as session:
            ...
        await db.dispose()

    Installed on an app, it answers database errors (404/409/422/503), checks at start-up
    that the database can be reached (a wrong URL, driver, user or database name stops the
    server and ``prow check`` with one line saying why; a server that is only down for now
    is logged and answered 503 until it is back) and closes its pool at shutdown. Without a
    URL it uses the app's ``database_url``, then ``PROW_DATABASE_URL``, then a SQLite file.

    The pool keeps ``pool_size`` connections open and opens up to ``max_overflow`` more in a
    burst (defaults: the ``database_pool_size``/``database_max_overflow`` settings, 20 and 0:
    an overflow connection is closed when it comes back, so a steady load above the pool's
    size would open a new server session per request);
    every worker process has its own pool, so ``workers x (pool_size + max_overflow)`` must stay
    below the server's ``max_connections`` (PostgreSQL: 100 by default).

    On PostgreSQL (asyncpg) no round trip is spent on nothing: no liveness ping (a connection
    the server closed is replaced when it is checked out, before anything is sent on it), and
    a transaction begins only before the first statement that is not a plain ``SELECT``, so a
    request that only reads sends its reads and nothing else (``lazy_begin=False`` restores
    ``BEGIN`` before the first statement; see ``docs/database.md``).

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
        lazy_begin: bool = True,
    ) -> None:
        self._explicit = url is not None
        self._lazy_begin = lazy_begin
        self._default_pool = pool_size is None and max_overflow is None
        self._default_timeouts = (connect_timeout, pool_timeout, statement_timeout) == (
            DEFAULT_CONNECT_TIMEOUT,
            DEFAULT_POOL_TIMEOUT,
            DEFAULT_STATEMENT_TIMEOUT,
        )
        self._url = resolve_url(url)
        self._timeouts = checked_timeouts(
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
            statement_timeout=statement_timeout,
        )
        self._connect_args = connect_args
        options: dict[str, Any] = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_recycle": pool_recycle,
        }
        self._pool_options = {key: value for key, value in options.items() if value is not None}
        if self._default_pool:
            self._pool_options.update(
                pool_size=DEFAULT_POOL_SIZE, max_overflow=DEFAULT_MAX_OVERFLOW
            )
        self._pool_options["echo"] = echo
        self._statement_timeout = statement_timeout
        self._engine: AsyncEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._bound: AsyncConnection | None = None
        self._closing: set[asyncio.Task[None]] = set()
        #: Why the start-up check could not reach the database (None: it could, or no check).
        self.unreachable: str | None = None
        #: Installed by prow with the defaults (a route used ``DBSession``), not by the project.
        self.implicit = False

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

    # -- the extension ---------------------------------------------------------------------

    def setup(self, app: App) -> None:
        """Take the app's ``database_url`` (when no URL was given), the timeouts of the
        project's settings (when none were given) and install the error answers."""
        setting = getattr(app, "database_url", None)
        if not self._explicit and setting:
            self._url = resolve_url(setting)
        if not self._explicit and not setting:
            # Say which database a project that configured none is using (a fresh
            # project's SQLite file, or PROW_DATABASE_URL's).
            logger.info("database: %r (no URL configured: %s or the default)", self, ENV_VAR)
        settings: Any = app.state.settings if "settings" in app.state else None
        if self._default_timeouts and hasattr(settings, "database_statement_timeout"):
            # A project made by prow.apps.create_app: its settings name the timeouts.
            from prow.settings import database_kwargs

            given: dict[str, Any] = dict(database_kwargs(settings))
            timeouts = {key: given[key] for key in self._timeouts}
            self._timeouts = checked_timeouts(**timeouts)
            self._statement_timeout = self._timeouts["statement_timeout"]
        if self._default_pool and hasattr(settings, "database_pool_size"):
            sizes = {"pool_size": settings.database_pool_size}
            self._pool_options.update(sizes, max_overflow=settings.database_max_overflow)
        install_error_handlers(app)

    async def startup(self, app: App) -> None:
        """Connect once: a database that can never work stops the start-up (``prow.E505``)."""
        await self.check_connection()

    async def release(self, app: App) -> None:
        """Close the pool's connections (the next use opens new ones)."""
        await self.dispose()

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): one ``SELECT 1`` through the pool."""
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")

    def pool_usage(self) -> dict[str, int]:
        """The pool's connections by state (``checked_out``, ``idle``, ``overflow``, ``size``).

        Empty before the engine exists, or for a pool that does not count (SQLite's).
        Read by ``/metrics``; costs nothing per request.
        """
        engine = self._engine
        if engine is None:
            return {}
        pool: Any = engine.sync_engine.pool
        usage: dict[str, int] = {}
        for state, method in (
            ("checked_out", "checkedout"),
            ("idle", "checkedin"),
            ("overflow", "overflow"),
            ("size", "size"),
        ):
            count = getattr(pool, method, None)
            if callable(count):
                usage[state] = int(count())
        return usage

    async def check_connection(self) -> None:
        """Open and close one connection; raise ``prow.E505`` when the settings are wrong.

        A server that is down or busy for now (refused, unreachable, starting up, out of
        connections) is not a settings mistake: it is logged, and requests are answered 503
        until it is back. A wrong driver, host name, user, password or database name is.
        """
        self.unreachable = None
        try:
            async with self.engine.connect():
                pass
        except (sa_exc.DBAPIError, OSError) as exc:
            await self.dispose()
            if self.backend == "sqlite":
                # aiosqlite stops a connection that failed to open in its thread without
                # waiting; let it finish while this loop still runs (a closing loop would
                # make that thread die with "Event loop is closed").
                await asyncio.sleep(0.05)
            causes = _causes(exc)
            root = causes[-1]
            if any(_is_transient(cause) for cause in causes):
                self.unreachable = _one_line(root)
                logger.warning(
                    "the database %r cannot be reached yet (%s); requests are answered 503 "
                    "until it can",
                    self,
                    self.unreachable,
                )
                return
            raise ConfigurationError(
                "prow.E505", f"cannot use the database {self!r}: {_one_line(root)}"
            ) from None
        # The pool starts empty, as before the check: nothing is left open (no connection,
        # no driver thread) in an app that has not served a request yet.
        await self.dispose()

    # -- engine and sessions ---------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        """The ``AsyncEngine``, created on first use."""
        engine = self._engine
        if engine is None:
            engine = self._engine = self._create_engine()
            self._loop = _running_loop()
        elif self._loop is None or self._loop.is_closed():
            loop = _running_loop()
            if loop is not None:
                if self._loop is not None:
                    # The loop that opened the pool's connections has ended (an
                    # ``asyncio.run`` in a script, then a server): they cannot be used
                    # from this one. Close them as well as can be, and start anew.
                    engine = self._engine = self._replace_engine(engine, loop)
                self._loop = loop
        return engine

    def _replace_engine(self, stale: AsyncEngine, loop: asyncio.AbstractEventLoop) -> AsyncEngine:
        closing = loop.create_task(stale.dispose())
        self._closing.add(closing)  # the loop keeps only a weak reference to tasks
        closing.add_done_callback(self._closing.discard)
        self._sessionmaker = None
        return self._create_engine()

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The factory of ``AsyncSession`` objects bound to :attr:`engine`."""
        engine = self.engine
        if self._sessionmaker is None:
            # Objects stay readable after commit: the response is rendered after it.
            self._sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        return self._sessionmaker

    def session(self) -> AsyncSession:
        """A new ``AsyncSession``; use it as ``async with db.session() as session:``.

        Inside :meth:`bind`, the session works in a savepoint of the bound connection.
        """
        bound = self._bound
        if bound is not None:
            return AsyncSession(
                bind=bound, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
        return self.sessionmaker()

    def connect(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A pooled ``AsyncConnection`` for ``async with``; inside :meth:`bind`, a savepoint
        of the bound connection whose ``commit()``/``rollback()`` end that savepoint."""
        bound = self._bound
        if bound is not None:
            return _savepoint_connection(bound)
        return self.engine.connect()

    @contextlib.asynccontextmanager
    async def bind(self, connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
        """Route every :meth:`session` and :meth:`connect` through ``connection`` in the block.

        The seam tests use to run the app's real ``Session``/``Connection`` dependencies
        inside one transaction they roll back: each session or connection handed out works
        in a SAVEPOINT, so the app's commits release savepoints and nothing is committed.
        """
        if self._bound is not None:
            raise RuntimeError(f"{self!r} is already bound to a connection")
        self._bound = connection
        try:
            yield connection
        finally:
            self._bound = None

    async def dispose(self) -> None:
        """Close every pooled connection; the next use opens new ones."""
        engine, self._engine, self._sessionmaker, self._loop = self._engine, None, None, None
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

    def _engine_options(self) -> dict[str, Any]:
        # Worked out from the URL in use (the app's setting may have replaced the default).
        timeouts = timeout_options(self._url, connect_args=self._connect_args, **self._timeouts)
        options = {**self._pool_options, **timeouts}
        if self._url.drivername == "postgresql+asyncpg":
            # Rows held for the COMMIT travel in its message (prow.db._at_commit).
            connect_args = options.setdefault("connect_args", {})
            connect_args.setdefault("connection_class", commit_connection_class())
        if self._default_pool and "pool_timeout" not in timeouts:
            # A pool of one shared connection (in-memory SQLite) takes no sizes; an explicit
            # size there is refused (prow.E504), the defaults are left out.
            options.pop("pool_size", None)
            options.pop("max_overflow", None)
        return options

    def _create_engine(self) -> AsyncEngine:
        try:
            # No pool_pre_ping: a round trip per request. On PostgreSQL a connection the
            # server closed is replaced at checkout for free (prow.db._lean); on MySQL the
            # ping stays until the same is done there.
            ping = self.backend in ("mysql", "mariadb")
            options = self._engine_options()
            engine = _create_async_engine(self._url, pool_pre_ping=ping, **options)
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
        lean.install(engine, lazy_begin=self._lazy_begin)
        if self.backend == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine


@contextlib.asynccontextmanager
async def _savepoint_connection(bound: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    from prow.db._savepoints import SavepointConnection

    connection = await SavepointConnection(bound).open()
    try:
        yield connection
    finally:
        await connection.close()


# Errors that say "not now" rather than "never": the server is down, starting or full.
_TRANSIENT_ERRNOS = frozenset((errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH))
_TRANSIENT_SQLSTATES = ("08", "53", "57P03")  # connection, resources, cannot connect now
_TRANSIENT_TEXT = ("is starting up", "too many", "connection refused", "timed out", "timeout")


def _one_line(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    return text or type(error).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps (``orig``, ``__cause__``, ``__context__``), outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        inner = getattr(current, "orig", None) or current.__cause__ or current.__context__
        current = inner if isinstance(inner, BaseException) else None
    return found


def _is_transient(error: BaseException) -> bool:
    if isinstance(error, TimeoutError | ConnectionRefusedError | asyncio.CancelledError):
        return True
    if isinstance(error, OSError) and error.errno in _TRANSIENT_ERRNOS:
        return True
    sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_TRANSIENT_SQLSTATES):
        return True
    code = error.args[0] if error.args else None
    if code in (1040, 2003):  # MySQL: too many connections, cannot connect
        return "Unknown" not in str(error)
    text = str(error).lower()
    return any(part in text for part in _TRANSIENT_TEXT)


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
    """The app's ``Database`` extension.

    An app that has none gets one with the defaults (the app's ``database_url``,
    ``PROW_DATABASE_URL``, or SQLite), as a route using ``Session`` does when the app is
    built; commands such as ``prow check`` ask for it this way.
    """
    found = app._extensions.find(Database)
    if found is None:
        # After the build (a CLI command asking a built app), it is set up at once.
        found = app._extensions.add_now(Database(getattr(app, "database_url", None)))
        found.implicit = True
    return found


def use_database(app: App, url: str | URL | None = None, **options: Any) -> Database:
    """Install the app's ``Database`` with a URL and pool options; returns it.

    Deprecated spelling of ``app.install(Database(url, **options))`` (or
    ``App(extensions=[Database(...)])``).
    """
    warnings.warn(
        "use_database(app, ...) is deprecated; use app.install(Database(...)) or "
        "App(extensions=[Database(...)])",
        DeprecationWarning,
        stacklevel=2,
    )
    chosen = Database(url or getattr(app, "database_url", None), **options)
    earlier = app._extensions.find(Database)
    if earlier is not None and earlier.implicit:  # a default made on first use: replace it
        app._extensions.replace(earlier, chosen)
        return chosen
    return app.install(chosen)  # a Database the project installed itself: prow.E023
