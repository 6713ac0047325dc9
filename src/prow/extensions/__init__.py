"""One way to plug in: every battery is an :class:`Extension` installed on the app.

::

    from prow import App
    from prow.db import Database
    from prow.auth import Auth

    app = App(extensions=[Database("postgresql://app@db/app"), Auth(user_model=Member)])
    app.install(Sessions())          # the same, one at a time, before the app starts

An extension's life, in order:

1. ``install`` (``App(extensions=...)``, ``app.install(ext)`` or the Flask-style ``Ext(app)``)
   only records it: nothing is changed yet, so options can still be set.
2. ``setup(app)`` runs once when the app is built (``app.build()``, the first request or the
   server's start-up): the extension adds its routes, middleware, exception handlers,
   dependencies overrides and OpenAPI settings, and may refuse to start by raising
   ``ConfigurationError`` with a ``prow.E`` code. Extensions it ``requires`` are set up
   first (and installed with their defaults when the project did not install them).
3. ``startup(app)`` runs in the lifespan's start-up, before the first request is served: it
   connects to what it needs (a database that cannot be reached stops the server here, and
   ``prow check`` runs it too). ``shutdown(app)`` runs at the end, in reverse order.
4. ``release(app)`` closes what belongs to the running event loop (connection pools,
   clients): ``shutdown`` calls it by default, and ``app.release()`` (which a test client
   calls before its loop ends) calls it on every extension.

Nothing is installed during a request. An extension is reached from handlers through the
app (``app.extension(Database)``) or a dependency it provides, never a module global, so
two apps in one process keep their own.

Writing one::

    class Sentry(Extension):
        def __init__(self, dsn: str) -> None:
            self.dsn = dsn

        def setup(self, app: App) -> None:
            app.add_middleware(SentryMiddleware, dsn=self.dsn)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from prow._app import App
    from prow._routing._route import Route

__all__ = ["Extension"]


class Extension:
    """Base class of prow's batteries and of third-party ones.

    Subclasses override any of :meth:`setup`, :meth:`startup` and :meth:`shutdown`; the
    defaults do nothing. ``requires`` names the extension classes this one needs: when the
    app has none of a kind, one made with no arguments is installed before this one.
    Installing two extensions of the same class is refused (``prow.E023``) unless the
    class sets ``unique = False``.
    """

    #: Extension classes that must be set up before this one.
    requires: ClassVar[tuple[type[Extension], ...]] = ()
    #: Whether an app may hold only one extension of this class.
    unique: ClassVar[bool] = True

    def setup(self, app: App) -> None:
        """Attach to ``app``: routes, middleware, handlers, hooks. Runs once, at build."""

    def prepare_route(self, app: App, route: Route) -> None:
        """Look at one HTTP route once it is compiled, at build time; may wrap its ``handle``.

        Called for every HTTP route of the app, once per route, after ``setup`` and after
        the route's parameter plan is made (``route.options``, ``route.path`` — the
        template — and ``route.impersonal`` are final). An extension that serves a route
        option (``cache=``) or instruments routes replaces ``route.handle`` with a wrapper
        that calls the previous one; routes it leaves alone pay nothing per request.
        """

    async def ready(self, app: App) -> None:
        """Readiness (``/readyz``): raise when what the extension needs does not answer now.

        Extensions that do not override it are not asked. Called for every ``/readyz``
        request, bounded by ``app.ready_timeout`` seconds: keep it to one round trip
        (``SELECT 1``, ``PING``).
        """

    async def startup(self, app: App) -> None:
        """Connect to what the extension needs; runs before the first request is served."""

    async def shutdown(self, app: App) -> None:
        """Release what :meth:`startup` (or serving) opened; runs when the app stops.

        The default calls :meth:`release`.
        """
        await self.release(app)

    async def release(self, app: App) -> None:
        """Close what belongs to the running event loop (pools, clients); reopened on use.

        ``app.release()`` calls it, for example before a test client's loop ends.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def describe(extension: Any) -> str:
    """A readable name of an extension for error messages."""
    return type(extension).__name__


from prow.extensions._set import requires_extension  # noqa: E402 - needs Extension above

__all__ += ["requires_extension"]
