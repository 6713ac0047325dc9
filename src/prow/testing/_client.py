"""The test clients: ``TestClient`` (sync) and ``AsyncTestClient``, both httpx clients."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from prow._types import ASGIApp, Scope
from prow.testing._lifespan import LifespanSession
from prow.testing._loop import Lease, loop_for
from prow.testing._scope import Connection, websocket_scope
from prow.testing._transport import AsyncTransport, PortalTransport
from prow.testing._websocket import AsyncWebSocketTestSession, WebSocketTestSession

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal
    from httpx._types import CookieTypes


def _handshake_scope(
    client: httpx.Client | httpx.AsyncClient,
    connection: Connection,
    url: str | httpx.URL,
    subprotocols: Sequence[str] | None,
    headers: Mapping[str, str] | None,
) -> Scope:
    """The websocket scope for opening ``url`` with ``client``'s base URL, headers and cookies."""
    subprotocols = list(subprotocols or ())
    request = client.build_request("GET", url, headers=_handshake_headers(subprotocols, headers))
    return websocket_scope(request, connection, subprotocols)


def _handshake_headers(
    subprotocols: Sequence[str], headers: Mapping[str, str] | None
) -> dict[str, str]:
    """The headers a browser sends to open a websocket, plus the caller's own."""
    merged = {
        "connection": "upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
    }
    if subprotocols:
        merged["sec-websocket-protocol"] = ", ".join(subprotocols)
    merged.update(headers or {})
    return merged


def _client_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    given = dict(headers or {})
    if not any(name.lower() == "user-agent" for name in given):
        given["user-agent"] = "testclient"
    return given


class TestClient(httpx.Client):
    """A synchronous httpx client whose requests run ``app`` in process.

    ``with TestClient(app) as client:`` also runs the app's lifespan around the block and
    keeps one event loop for all of it.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: CookieTypes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
        backend: str = "asyncio",
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        self._connection = Connection(root_path, client)
        self._backend = backend
        self._backend_options = backend_options
        self._lease: Lease | None = None
        self._loop = loop_for(app, backend, backend_options)
        self._session: ExitStack | None = None
        transport = PortalTransport(
            app, self._connection, self._portal_in_use, raise_server_exceptions
        )
        super().__init__(
            base_url=base_url,
            headers=_client_headers(headers),
            transport=transport,
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    @property
    def app_state(self) -> dict[str, Any]:
        """What the app stored in its lifespan ``state``; each request gets a copy."""
        return self._connection.state

    @property
    def portal(self) -> BlockingPortal:
        """The portal to the event loop the app runs on, to run async code there from a
        test (``client.portal.call(coroutine_function, ...)``): what it opens, such as a
        database connection, is then usable by the app's requests."""
        return self._acquire().portal

    @contextmanager
    def _portal_in_use(self) -> Iterator[BlockingPortal]:
        """The portal of the app's shared loop, opened on first use until :meth:`close`."""
        yield self._acquire().portal

    def _acquire(self) -> Lease:
        if self._lease is None:
            self._lease = self._loop.acquire()
            # A client dropped without close() gives the loop back when collected.
            weakref.finalize(self, self._lease.abandon)
        return self._lease

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this TestClient is already open in a with block")
        with ExitStack() as stack:
            portal = self._acquire().portal
            stack.callback(self._release)
            lifespan = LifespanSession(self.app, self._connection.state)
            stack.enter_context(portal.wrap_async_context_manager(lifespan))
            self._session = stack.pop_all()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()
        super().__exit__(exc_type, exc, tb)

    def close(self) -> None:
        """Close the client; the app's loop stops when no other client of it is open."""
        super().close()
        if self._session is None:
            self._release()

    def _release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.release()

    def websocket_connect(
        self,
        url: str | httpx.URL,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> WebSocketTestSession:
        """Open a websocket to ``url``; use the result in a ``with`` block."""
        scope = _handshake_scope(self, self._connection, url, subprotocols, headers)
        return WebSocketTestSession(self.app, scope, self._portal_in_use)


class AsyncTestClient(httpx.AsyncClient):
    """An async httpx client whose requests run ``app`` on the caller's event loop.

    ``async with AsyncTestClient(app) as client:`` also runs the app's lifespan.
    """

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        raise_server_exceptions: bool = True,
        root_path: str = "",
        cookies: CookieTypes | None = None,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = True,
        client: tuple[str, int] = ("testclient", 50000),
    ) -> None:
        self.app = app
        self._connection = Connection(root_path, client)
        self._session: LifespanSession | None = None
        super().__init__(
            base_url=base_url,
            headers=_client_headers(headers),
            transport=AsyncTransport(app, self._connection, raise_server_exceptions),
            follow_redirects=follow_redirects,
            cookies=cookies,
        )

    @property
    def app_state(self) -> dict[str, Any]:
        """What the app stored in its lifespan ``state``; each request gets a copy."""
        return self._connection.state

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this AsyncTestClient is already open in an async with block")
        lifespan = LifespanSession(self.app, self._connection.state)
        await lifespan.__aenter__()
        self._session = lifespan
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.__aexit__(exc_type, exc, tb)

    def websocket_connect(
        self,
        url: str | httpx.URL,
        subprotocols: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncWebSocketTestSession:
        """Open a websocket to ``url``; use the result in an ``async with`` block."""
        scope = _handshake_scope(self, self._connection, url, subprotocols, headers)
        return AsyncWebSocketTestSession(self.app, scope)
