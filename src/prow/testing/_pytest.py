"""prow's pytest plugin: an app client, and a database whose changes every test rolls back.

Fixtures (your own ``app`` fixture, or the ``prow_app`` ini option / ``$PROW_APP``, names the
app under test)::

    app           the App under test (defined by you, else loaded from prow_app / PROW_APP)
    client        TestClient(app) inside ``with``: lifespan runs, one event loop per test
    async_client  AsyncTestClient(app) inside ``async with``, on the async test's own loop
    db            SyncSession: the test's database session, for synchronous tests (with client)
    db_session    AsyncSession: the same, for async tests (with async_client)
    mailoutbox    the app's sent mail (``app.extension(Mail).outbox``), empty at each test start

Mail: as Django's test runner does, the plugin sends every app's mail to memory
(``PROW_MAIL_URL=memory://``, unless a ``Mail`` is given a backend of its own) and empties
those outboxes before each test, so a test never sends real mail and sees only its own.

Isolation: one connection per test, inside a transaction that is rolled back when the test
ends. The app's ``Session`` dependency is overridden so that each request gets its own
session on that same connection, in a SAVEPOINT: the app's commit releases the savepoint
(the test sees the change) but nothing is ever committed for real. A connection belongs to
the event loop that opened it, so the sync pair (``client``/``db``) lives on the client's
loop and the async pair (``async_client``/``db_session``) on the test's loop; mixing the
pairs fails the test with a message saying which to use.

Tables are made once per database per test run: ``create_all`` over ``Model.metadata``, or,
when the ``prow_migrations`` ini option names a folder, ``prow migrate`` to head.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from prow.testing._client import AsyncTestClient, TestClient

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal
    from sqlalchemy.engine import Result, ScalarResult
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
    from sqlalchemy.sql import Executable

    from prow._app import App
    from prow.db import Database

__all__ = ["SyncSession"]

T = TypeVar("T")

APP_ENV_VAR = "PROW_APP"
_PREPARED = pytest.StashKey[set[str]]()
_SYNC_PAIR = ("client", "db")
_ASYNC_PAIR = ("async_client", "db_session")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's ini options."""
    parser.addini("prow_app", "the app under test, as module:attr (else $PROW_APP)", default="")
    parser.addini(
        "prow_migrations",
        "a migrations folder: the test database is migrated to head instead of create_all",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Mail goes to memory under pytest (a test never sends real mail)."""
    os.environ["PROW_MAIL_URL"] = "memory://"


@pytest.fixture(autouse=True)
def _prow_empty_outboxes() -> None:
    """Each test starts with empty mail outboxes (only when prow.mail is in use)."""
    mail = sys.modules.get("prow.mail._backends")
    if mail is not None:
        mail.clear_outboxes()


@pytest.fixture
def mailoutbox(app: App) -> list[Any]:
    """The mail ``app`` sent during the test (its ``Mail``'s memory outbox)."""
    from prow.mail import Mail

    app.build()  # the backend is chosen when the app is built
    return app.extension(Mail).outbox


# -- the app and its clients ------------------------------------------------------------


@pytest.fixture
def app(request: pytest.FixtureRequest) -> App:
    """The app under test: define your own ``app`` fixture, or set ``prow_app``/``$PROW_APP``."""
    spec = str(request.config.getini("prow_app")) or os.environ.get(APP_ENV_VAR, "")
    if not spec:
        pytest.fail(
            "prow's fixtures need the app under test: define an `app` fixture in conftest.py, "
            f"set `prow_app = module:attr` in the pytest ini options, or set ${APP_ENV_VAR}",
            pytrace=False,
        )
    return load_app(spec)


def load_app(spec: str) -> App:
    """Import ``"module:attr"`` (``attr`` defaults to ``app``) and check it is a prow ``App``."""
    from prow import App

    module_name, _, attr = spec.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in (attr or "app").split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"cannot load the app {spec!r}: {exc}", pytrace=False)
    if not isinstance(found, App):
        pytest.fail(f"{spec!r} is a {type(found).__name__}, not a prow App", pytrace=False)
    return found


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """A ``TestClient`` for ``app``, opened with ``with``: the lifespan runs around the test."""
    with TestClient(app) as opened:
        yield opened


@pytest.fixture
async def async_client(app: App, anyio_backend: object) -> AsyncIterator[AsyncTestClient]:
    """An ``AsyncTestClient`` for ``app`` (lifespan included), for ``@pytest.mark.anyio`` tests."""
    async with AsyncTestClient(app) as opened:
        yield opened


# -- the database, isolated per test ----------------------------------------------------


@pytest.fixture
def db(request: pytest.FixtureRequest, app: App, client: TestClient) -> Iterator[SyncSession]:
    """The test's database session, for sync tests: what it writes, ``client``'s requests see.

    Everything is rolled back when the test ends.
    """
    _refuse_mixing(request, "db", _ASYNC_PAIR)
    portal = client.portal  # the loop the app runs on: the connection must live there too
    isolated = _isolated_session(app, request.config)
    with portal.wrap_async_context_manager(isolated) as session:
        yield SyncSession(session, portal)


@pytest.fixture
async def db_session(
    request: pytest.FixtureRequest, app: App, async_client: AsyncTestClient
) -> AsyncIterator[AsyncSession]:
    """The test's ``AsyncSession``, for async tests: ``async_client``'s requests see its work.

    Everything is rolled back when the test ends.
    """
    _refuse_mixing(request, "db_session", _SYNC_PAIR)
    async with _isolated_session(app, request.config) as session:
        yield session


def _refuse_mixing(request: pytest.FixtureRequest, name: str, other: tuple[str, ...]) -> None:
    # A connection cannot cross event loops: the sync client runs the app on its own loop,
    # the async client on the test's. Mixing them would fail later with an obscure error.
    mixed = [fixture for fixture in other if fixture in request.fixturenames]
    if mixed:
        pair = "client and db" if name == "db" else "async_client and db_session"
        pytest.fail(
            f"the {name} fixture cannot be used with {' or '.join(mixed)}: they run on "
            f"different event loops. Use {pair} together (sync tests: client and db; "
            "async tests: async_client and db_session)",
            pytrace=False,
        )


@asynccontextmanager
async def _isolated_session(app: App, config: pytest.Config) -> AsyncIterator[AsyncSession]:
    """A session in a rolled-back transaction; the app's own ``Session`` and ``Connection``
    dependencies work inside it through ``Database.bind``."""
    from prow.db import database

    store = database(app)
    await _prepare_tables(store, config)
    async with (
        _outer_transaction(store) as connection,
        store.bind(connection),
        store.session() as session,
    ):
        yield session


@asynccontextmanager
async def _outer_transaction(store: Database) -> AsyncIterator[AsyncConnection]:
    """One connection in a transaction that is always rolled back."""
    async with store.engine.connect() as connection:
        transaction = await connection.begin()
        if store.backend == "sqlite":
            # Python's sqlite3 driver defers BEGIN to the first write. A SAVEPOINT sent
            # first would then be the outermost transaction, and releasing it (the app's
            # commit) would commit for real. An explicit BEGIN keeps savepoints inside.
            await connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            await transaction.rollback()


async def _prepare_tables(store: Database, config: pytest.Config) -> None:
    """Create the tables (or migrate) once per database URL per test run."""
    prepared = config.stash.setdefault(_PREPARED, set())
    if store.url in prepared:
        return
    folder = str(config.getini("prow_migrations"))
    if folder:
        await _migrate(store.url, config.rootpath / folder)
    else:
        await store.create_all()
    prepared.add(store.url)


async def _migrate(url: str, folder: Path) -> None:
    import anyio.to_thread

    from prow.db import migrate

    # migrate() runs its own event loop, so it cannot run on this one.
    await anyio.to_thread.run_sync(lambda: migrate(url=url, directory=folder))


# -- the sync front over the test's session ---------------------------------------------


class SyncSession:
    """The test's ``AsyncSession`` for synchronous tests: each call runs on the app's loop.

    ``add``/``add_all``/``delete``/``flush``/``commit``/``rollback``/``refresh``/``get``/
    ``execute``/``scalar``/``scalars`` do what ``AsyncSession``'s do, without ``await``;
    ``run(func, *args)`` runs ``await func(session, *args)`` for anything else.
    """

    __test__ = False  # not a test class

    def __init__(self, session: AsyncSession, portal: BlockingPortal) -> None:
        self._session = session
        self._portal = portal

    @property
    def session(self) -> AsyncSession:
        """The underlying ``AsyncSession`` (use it through :meth:`run`)."""
        return self._session

    def run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await func(session, *args)`` on the app's event loop; returns its result."""
        return self._portal.call(func, self._session, *args)

    def add(self, *instances: object) -> None:
        """Add objects to the session (written at the next flush or commit)."""
        self._session.add_all(instances)

    def add_all(self, instances: Iterator[object] | list[object]) -> None:
        """Add every object of ``instances``."""
        self._session.add_all(instances)

    def delete(self, instance: object) -> None:
        """Mark ``instance`` for deletion."""
        self._portal.call(self._session.delete, instance)

    def flush(self) -> None:
        """Write pending changes; requests made from now on see them."""
        self._portal.call(self._session.flush)

    def commit(self) -> None:
        """Flush and release the session's savepoint (the test's transaction stays open)."""
        self._portal.call(self._session.commit)

    def rollback(self) -> None:
        """Undo the session's work since its last commit."""
        self._portal.call(self._session.rollback)

    def refresh(self, instance: object) -> None:
        """Reload ``instance`` from the database (e.g. after a request changed its row)."""
        self._portal.call(self._session.refresh, instance)

    def get(self, model: type[T], pk: Any) -> T | None:
        """The ``model`` row with primary key ``pk``, or ``None``."""
        found: T | None = self._portal.call(self._session.get, model, pk)
        return found

    def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        """Run ``statement``; the result is buffered, so it can be read here."""
        return self._portal.call(self._session.execute, statement, params)

    def scalar(self, statement: Executable, params: Any = None) -> Any:
        """The first column of the first row of ``statement``'s result."""
        return self._portal.call(self._session.scalar, statement, params)

    def scalars(self, statement: Executable, params: Any = None) -> ScalarResult[Any]:
        """The first column of every row of ``statement``'s result."""
        return self._portal.call(self._session.scalars, statement, params)
