"""Sessions: ``request.session``, kept between requests in a signed cookie or a server-side store.

::

    from prow import App, Request
    from prow.sessions import Sessions

    app = App(secret_key="...", extensions=[Sessions()])

    @app.post("/cart")
    async def add(request: Request, item: str) -> list[str]:
        cart = [*request.session.get("cart", []), item]
        request.session["cart"] = cart
        return cart

Server-side stores: ``MemoryStore()`` (one process), ``RedisStore(url)`` (needs the
``redis`` extra) and ``DatabaseStore()`` (the app's prow.db database). ``RedisStore`` and
``DatabaseStore`` load their libraries only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow.sessions._extension import Sessions
from prow.sessions._middleware import DEFAULT_MAX_AGE, SessionMiddleware, SessionTooLarge
from prow.sessions._session import SessionData
from prow.sessions._store import MemoryStore, SessionStore, SessionStoreUnavailable

if TYPE_CHECKING:
    from prow.sessions._database import DatabaseStore, SessionRecord
    from prow.sessions._redis import RedisStore

_LAZY = {
    "DatabaseStore": "prow.sessions._database",
    "SessionRecord": "prow.sessions._database",
    "RedisStore": "prow.sessions._redis",
}


def __getattr__(name: str) -> Any:
    # redis-py and SQLAlchemy load only for apps that use those stores.
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'prow.sessions' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_MAX_AGE",
    "DatabaseStore",
    "MemoryStore",
    "RedisStore",
    "SessionData",
    "SessionMiddleware",
    "SessionRecord",
    "SessionStore",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "Sessions",
]
