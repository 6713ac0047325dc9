"""``Sessions``: the browser-session battery, installed like every other one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from prow.extensions import Extension
from prow.sessions._middleware import SessionMiddleware, SessionOptions
from prow.sessions._store import SessionStore

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["Sessions"]


class Sessions(Extension):
    """Give every request a browser session (``request.session``), kept by a cookie.

    ::

        app = App(secret_key="...", extensions=[Sessions()])              # data in the cookie
        app = App(secret_key="...", extensions=[Sessions(RedisSessionStore(url))])  # data in Redis

    The options (``cookie_name``, ``max_age``, ``path``, ``domain``, ``same_site``,
    ``https_only``) are :class:`SessionMiddleware`'s; the signing key is the app's
    ``signing_key("sessions")``, read at start-up (no usable key stops it, ``prow.E100``).
    """

    def __init__(
        self, store: SessionStore | None = None, **options: Unpack[SessionOptions]
    ) -> None:
        self.store = store
        self.options = options

    def __repr__(self) -> str:
        return f"Sessions({self.store!r})"

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): a store kept in Redis answers a ping."""
        client = getattr(self.store, "client", None)
        if client is not None and hasattr(client, "ping"):
            await client.ping()

    def setup(self, app: App) -> None:
        """Add the session middleware (outside the app's own middleware)."""
        app.add_middleware(SessionMiddleware, store=self.store, **self.options)
