"""``DatabaseSessionStore``: sessions as rows of the ``prow_session`` table of a prow.db database.

Importing this module adds the table to ``prow.db.Model.metadata``, so ``prow
makemigrations`` picks it up in projects that use the store (and only in those).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, String, Text, delete
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Mapped, mapped_column

from prow.db import Database, DatabaseUnavailable, Model, database
from prow.sessions._store import SessionStore, SessionStoreUnavailable

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["DatabaseSessionStore", "SessionRecord"]


@contextlib.contextmanager
def _outage_is_unavailable() -> Iterator[None]:
    # An unreachable database or an exhausted pool is an outage of the store (503);
    # any other database error is a bug and stays one.
    try:
        yield
    except (DatabaseUnavailable, sa_exc.TimeoutError) as exc:
        raise SessionStoreUnavailable(f"the session database is unavailable: {exc}") from exc


class SessionRecord(Model):
    """One stored session: its id, its JSON data and when it expires (Unix seconds)."""

    __tablename__ = "prow_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class DatabaseSessionStore(SessionStore):
    """Sessions in the app's database (``prow.db.database(app)``) or in ``database``.

    The ``prow_session`` table comes with your migrations, or for a quick start
    ``await database(app).create_all(SessionRecord)``. Expired rows are ignored when read;
    delete them now and then with :meth:`purge_expired`.
    """

    def __init__(self, database: Database | None = None) -> None:
        self._database = database

    @property
    def database(self) -> Database:
        """The database the sessions live in (known once the app has started)."""
        if self._database is None:
            raise RuntimeError("DatabaseSessionStore has no database yet: the app has not started")
        return self._database

    def setup_app(self, app: App) -> None:
        if self._database is None:
            self._database = database(app)  # closes its pool when the app stops
        else:
            # Pooled connections belong to the serving event loop: close them with the app.
            app.on_shutdown(self._database.dispose)

    async def load(self, session_id: str) -> str | None:
        with _outage_is_unavailable():
            async with self.database.session() as session:
                record = await session.get(SessionRecord, session_id)
        if record is None or record.expires_at <= time.time():
            return None
        return record.data

    async def save(self, session_id: str, payload: str, max_age: int) -> None:
        expires_at = int(time.time()) + max_age
        record = SessionRecord(id=session_id, data=payload, expires_at=expires_at)
        with _outage_is_unavailable():
            async with self.database.session() as session:
                await session.merge(record)
                await session.commit()

    async def delete(self, session_id: str) -> None:
        with _outage_is_unavailable():
            async with self.database.session() as session:
                await session.execute(delete(SessionRecord).where(SessionRecord.id == session_id))
                await session.commit()

    async def purge_expired(self) -> int:
        """Delete the rows of expired sessions; returns how many were deleted."""
        query = delete(SessionRecord).where(SessionRecord.expires_at <= int(time.time()))
        async with self.database.session() as session:
            result = await session.execute(query)
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
