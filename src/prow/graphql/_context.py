"""What a resolver reaches through ``info.context``: the request, its session, its loaders."""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import TYPE_CHECKING, Any

from prow.graphql._loaders import Loaders

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from prow._request import HTTPConnection

__all__ = ["GraphQLContext", "SerialSession"]


class SerialSession:
    """The request's ``AsyncSession``, used by one resolver at a time.

    GraphQL resolves sibling fields concurrently (two lists side by side, the DataLoaders of
    two relations of the same rows), but a session and its connection run one statement at a
    time: SQLAlchemy refuses concurrent use ("concurrent operations are not permitted"), and
    asyncpg "another operation is in progress". Every awaitable method of the session is
    taken through one lock; the statements still share the request's transaction.
    """

    __slots__ = ("_lock", "_session", "_wrapped")

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._lock = asyncio.Lock()
        self._wrapped: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        wrapped = self._wrapped.get(name)
        if wrapped is not None:
            return wrapped
        value = getattr(self._session, name)
        if not inspect.iscoroutinefunction(value):
            return value
        lock = self._lock

        @functools.wraps(value)
        async def serial(*args: Any, **kwargs: Any) -> Any:
            async with lock:
                return await value(*args, **kwargs)

        self._wrapped[name] = serial
        return serial

    def __repr__(self) -> str:
        return f"SerialSession({self._session!r})"


class GraphQLContext:
    """``info.context`` of every resolver.

    ``request`` is the HTTP request (or the websocket of a subscription), ``session`` the
    request's database session (``DBSession``: committed when the response is ready),
    ``loaders`` the request's DataLoaders. ``context["request"]`` works too, as Strawberry's
    own integrations spell it.
    """

    __slots__ = ("_loaders", "request", "response", "session")

    def __init__(self, request: HTTPConnection, session: AsyncSession | None) -> None:
        # A Request, or the WebSocket of a subscription: what a Resource's hooks receive.
        self.request: Any = request
        self.session: Any = None if session is None else SerialSession(session)
        self.response: Any = None
        self._loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.session)
        return self._loaders

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)
