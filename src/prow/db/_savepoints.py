"""The test's connection as a request's ``Connection``: the handler's transactions are savepoints.

prow's pytest plugin runs each test in one transaction that is rolled back when the test ends,
and hands each request that asks for ``Connection`` the test's own connection. A handler may
commit, roll back or begin transactions itself, as it may in production; done on the test's
connection as it is, that would end the test's transaction (a commit would be real). Here the
request runs in a SAVEPOINT instead, and the handler's transaction control maps onto it:

==========================  ===================================================================
the handler calls           what happens inside the test's transaction
==========================  ===================================================================
``commit()``                the request's savepoint is released and a new one begins
``rollback()``              the request's savepoint is rolled back and a new one begins
``begin()``                 a savepoint inside the request's; its commit is the request's commit
``close()``                 the request's savepoint is rolled back; the test's connection stays
==========================  ===================================================================

Everything else is ``AsyncConnection``'s own, on the same underlying connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

__all__ = ["SavepointConnection"]


class SavepointConnection(AsyncConnection):
    """An ``AsyncConnection`` over the test's connection whose transaction is a savepoint.

    Open it with :meth:`open`; end the request with :meth:`finish`.
    """

    __slots__ = ("_savepoint",)

    _savepoint: AsyncTransaction

    def __init__(self, connection: AsyncConnection) -> None:
        # The sync connection is set after construction: passed to the constructor, this
        # object would replace the test's own AsyncConnection as the one SQLAlchemy returns
        # for that connection elsewhere (AsyncSession.connection(), for one).
        super().__init__(connection.engine)
        self.sync_connection = connection.sync_connection
        self._savepoint = AsyncTransaction(self, nested=True)

    async def open(self) -> SavepointConnection:
        """Begin the request's savepoint."""
        await self._savepoint.start()
        return self

    async def finish(self, *, commit: bool) -> None:
        """Release (``commit=True``) or roll back the request's savepoint, if it is still open.

        Savepoints the handler began inside it and left open end with it, as production's
        commit or rollback ends them.
        """
        await self.run_sync(_end_savepoint, self._savepoint, commit)

    def begin(self) -> AsyncTransaction:
        """A savepoint inside the request's, awaited or used with ``async with``.

        In production ``begin()`` starts the connection's transaction, so committing it is
        durable: here its commit also commits the request (a later failure does not undo it).
        """
        return _HandlerTransaction(self, nested=True)

    async def commit(self) -> None:
        """Release the request's savepoint (the test sees the work) and begin the next one."""
        await self.finish(commit=True)
        self._savepoint = await self.begin_nested()

    async def rollback(self) -> None:
        """Roll back the request's work since its last commit and begin the next savepoint."""
        await self.finish(commit=False)
        self._savepoint = await self.begin_nested()

    async def close(self) -> None:
        """Roll back the request's work, as closing does; the test's connection stays open."""
        await self.finish(commit=False)

    def in_transaction(self) -> bool:
        """Whether the request's savepoint is open (the test's transaction always is)."""
        return self._savepoint.is_active

    def get_transaction(self) -> AsyncTransaction | None:
        """The request's savepoint, not the test's transaction."""
        return self._savepoint if self._savepoint.is_active else None


class _HandlerTransaction(AsyncTransaction):
    """What the handler's ``begin()`` returns: a savepoint whose commit commits the request."""

    __slots__ = ()

    async def __aenter__(self) -> AsyncTransaction:
        # SQLAlchemy's context-managed mode refuses a new savepoint until the block ends,
        # so a handler's connection.commit() inside the block (fine in production) would fail.
        return await self.start()

    async def __aexit__(self, type_: Any, value: Any, traceback: Any) -> None:
        if not self.is_active:  # the handler committed or rolled back inside the block
            return
        if type_ is None:
            await self.commit()
        else:
            await self.rollback()

    async def commit(self) -> None:
        """Release this savepoint, then commit the request's work as production would."""
        await super().commit()
        await self.connection.commit()


def _end_savepoint(connection: SyncConnection, savepoint: AsyncTransaction, commit: bool) -> None:
    # Savepoints nest: the ones begun inside ``savepoint`` end first, innermost first.
    # Ending ``savepoint`` directly would leave SQLAlchemy holding them as open.
    while savepoint.is_active:
        current = connection.get_nested_transaction()
        if current is None:  # pragma: no cover - an active savepoint is on the stack
            return
        if commit:
            current.commit()
        else:
            current.rollback()
