"""prow's data layer: SQLAlchemy 2 models, per-request sessions, HTTP answers for DB errors.

::

    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    from prow import App
    from prow.db import DBSession, Model, get_or_404

    class Author(Model):                     # table "author"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(100), unique=True)

    app = App(database_url="sqlite:///./app.sqlite3")

    @app.get("/authors/{author_id}")
    async def read_author(author_id: int, session: DBSession) -> dict[str, object]:
        author = await get_or_404(session, Author, author_id)
        return {"id": author.id, "name": author.name}

Needs the ``db`` extra (``pip install 'prow[db]'``; ``prow[postgres]``/``prow[mysql]``
add those drivers). ``import prow`` never imports this package.

``DBSession`` was called ``Session``: that name still works, with a ``DeprecationWarning``,
but it read like the browser session (``request.session``, ``prow.sessions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import sqlalchemy as _sqlalchemy
except ModuleNotFoundError as _missing:  # pragma: no cover - depends on the environment
    raise ModuleNotFoundError(
        "prow.db needs SQLAlchemy; install it with: pip install 'prow[db]'", name=_missing.name
    ) from _missing

from prow._renamed import renamed_attribute
from prow.db._database import DEFAULT_DATABASE_URL, Database, async_url, database, use_database
from prow.db._errors import (
    DatabaseUnavailable,
    InvalidValue,
    ValueTooLong,
    Violation,
    integrity_error_answer,
    invalid_value_answer,
    parse_integrity_error,
    too_long_answer,
)
from prow.db._model import NAMING_CONVENTION, Model, table_name_for
from prow.db._resource import Resource, ResourceOptions
from prow.db._schemas import schema_for
from prow.db._session import (
    Connection,
    DBSession,
    get_connection,
    get_or_404,
    get_session,
)

del _sqlalchemy

if TYPE_CHECKING:
    from prow.db._migrations import (
        Migration,
        MigrationError,
        MigrationWarning,
        makemigrations,
        migrate,
        model_changes,
        reverting,
        run_env,
        showmigrations,
    )

    Session = DBSession  # deprecated: the browser session is called a session too

_LAZY = frozenset(
    (
        "Migration",
        "MigrationError",
        "MigrationWarning",
        "makemigrations",
        "migrate",
        "model_changes",
        "reverting",
        "run_env",
        "showmigrations",
    )
)


_RENAMED = {"Session": "prow.db.DBSession"}


def __getattr__(name: str) -> Any:
    # Alembic is loaded only by code that migrates, not by every app that serves requests.
    if name in _LAZY:
        from prow.db import _migrations

        return getattr(_migrations, name)
    return renamed_attribute(__name__, name, _RENAMED)


__all__ = [
    "DEFAULT_DATABASE_URL",
    "NAMING_CONVENTION",
    "Connection",
    "DBSession",
    "Database",
    "DatabaseUnavailable",
    "InvalidValue",
    "Migration",
    "MigrationError",
    "MigrationWarning",
    "Model",
    "Resource",
    "ResourceOptions",
    "ValueTooLong",
    "Violation",
    "async_url",
    "database",
    "get_connection",
    "get_or_404",
    "get_session",
    "integrity_error_answer",
    "invalid_value_answer",
    "makemigrations",
    "migrate",
    "model_changes",
    "parse_integrity_error",
    "reverting",
    "run_env",
    "schema_for",
    "showmigrations",
    "table_name_for",
    "too_long_answer",
    "use_database",
]
