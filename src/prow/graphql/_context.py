"""What a resolver reaches through ``info.context``: the request, its session, its loaders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow.graphql._loaders import Loaders

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from prow._request import HTTPConnection

__all__ = ["GraphQLContext"]


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
        self.session: Any = session
        self.response: Any = None
        self._loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.session)
        return self._loaders

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)
