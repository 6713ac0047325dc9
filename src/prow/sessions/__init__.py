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

Server-side stores: ``MemorySessionStore()`` (one process), ``RedisSessionStore(url)``
(needs the ``redis`` extra) and ``DatabaseSessionStore()`` (the app's prow.db database).
``RedisSessionStore`` and ``DatabaseSessionStore`` load their libraries only when first used.
Their names say "session" because ``prow.ratelimit`` has stores of its own (the old names
``MemoryStore``, ``RedisStore`` and ``DatabaseStore`` still work, with a warning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._extras import missing_extra

try:  # a missing dependency names the extra that installs it, not just the module
    import itsdangerous as _itsdangerous  # noqa: F401
except ModuleNotFoundError as _missing:
    raise missing_extra("prow.sessions", _missing) from _missing

from prow._renamed import renamed_attribute
from prow.sessions._extension import Sessions
from prow.sessions._middleware import DEFAULT_MAX_AGE, SessionMiddleware, SessionTooLarge
from prow.sessions._session import SessionData
from prow.sessions._store import MemorySessionStore, SessionStore, SessionStoreUnavailable

if TYPE_CHECKING:
    from prow.sessions._database import DatabaseSessionStore, SessionRecord
    from prow.sessions._redis import RedisSessionStore

    # Deprecated names (prow.ratelimit has stores called the same).
    MemoryStore = MemorySessionStore
    RedisStore = RedisSessionStore
    DatabaseStore = DatabaseSessionStore

_LAZY = {
    "DatabaseSessionStore": "prow.sessions._database",
    "SessionRecord": "prow.sessions._database",
    "RedisSessionStore": "prow.sessions._redis",
}

_RENAMED = {
    "MemoryStore": "prow.sessions.MemorySessionStore",
    "RedisStore": "prow.sessions.RedisSessionStore",
    "DatabaseStore": "prow.sessions.DatabaseSessionStore",
}


def __getattr__(name: str) -> Any:
    # redis-py and SQLAlchemy load only for apps that use those stores.
    module = _LAZY.get(name)
    if module is None:
        return renamed_attribute(__name__, name, _RENAMED)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_MAX_AGE",
    "DatabaseSessionStore",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionData",
    "SessionMiddleware",
    "SessionRecord",
    "SessionStore",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "Sessions",
]
