"""``Router``: a group of routes with a prefix and shared options, included into an app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, Unpack

from prow._exceptions import ConfigurationError
from prow._routing._options import ROUTE_ONLY, RouteOptions, check_options, merge_options
from prow._routing._route import Mount, Route, WebSocketRoute

__all__ = ["Router"]

F = TypeVar("F", bound=Callable[..., Any])


class Router:
    """Routes that share a ``prefix`` and options (tags, dependencies, responses...).

    Routers nest: ``parent.include(child)`` composes prefixes and options; the app
    resolves everything once at start-up.
    """

    def __init__(self, prefix: str = "", **options: Unpack[RouteOptions]) -> None:
        if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
            raise ConfigurationError(
                "prow.E010",
                f"router prefix {prefix!r} must start with '/' and not end with '/'",
            )
        _check_group_options(options)
        self.prefix = prefix
        self.defaults: RouteOptions = options
        self._entries: list[Route | WebSocketRoute | Mount | tuple[Router, str, RouteOptions]] = []

    def add_route(
        self,
        path: str,
        endpoint: Callable[..., Any],
        methods: list[str] | tuple[str, ...] | None = None,
        **options: Unpack[RouteOptions],
    ) -> Route:
        """Register ``endpoint`` for ``methods`` at ``path`` (relative to this router)."""
        check_options(options, f"route {path!r}")
        self._refuse_late(f"route {path}")
        route = Route(path, endpoint, methods=methods, options=options)
        self._entries.append(route)
        return route

    def route(
        self,
        path: str,
        methods: list[str] | tuple[str, ...] | None = None,
        **options: Unpack[RouteOptions],
    ) -> Callable[[F], F]:
        """Decorator for several methods at once: ``@app.route("/", ["GET", "POST"])``."""

        check_options(options, f"route {path!r}")

        def register(endpoint: F) -> F:
            self.add_route(path, endpoint, methods, **options)
            return endpoint

        return register

    def get(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a GET handler (HEAD is answered by it too)."""
        return self.route(path, ["GET"], **options)

    def post(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        return self.route(path, ["POST"], **options)

    def put(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        return self.route(path, ["PUT"], **options)

    def patch(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        return self.route(path, ["PATCH"], **options)

    def delete(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        return self.route(path, ["DELETE"], **options)

    def head(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        return self.route(path, ["HEAD"], **options)

    def options(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        return self.route(path, ["OPTIONS"], **options)

    def websocket(self, path: str, **options: Unpack[RouteOptions]) -> Callable[[F], F]:
        """Register a websocket handler."""

        check_options(options, f"websocket route {path!r}")

        def register(endpoint: F) -> F:
            self._refuse_late(f"websocket route {path}")
            self._entries.append(WebSocketRoute(path, endpoint, options=options))
            return endpoint

        return register

    def include(self, router: Router, *, prefix: str = "", **options: Unpack[RouteOptions]) -> None:
        """Add every route of ``router`` under ``prefix`` (plus the router's own prefix)."""
        if router is self:
            raise ConfigurationError("prow.E011", "a router cannot include itself")
        _check_group_options(options)
        self._refuse_late(f"router {prefix + router.prefix or '/'}")
        self._entries.append((router, prefix, options))

    def mount(
        self, path: str, app: Any, *, name: str | None = None, wsgi: bool | None = None
    ) -> None:
        """Serve another ASGI app (or a WSGI app such as Flask or Django) under ``path``."""
        self._refuse_late(f"mount {path}")
        if wsgi is None:
            wsgi = _looks_like_wsgi(app)
        if wsgi:
            from prow.wsgi import WSGIMiddleware

            app = WSGIMiddleware(app)
        self._entries.append(Mount(path, app, name=name))

    def _refuse_late(self, what: str) -> None:
        """Refuse ``what`` being added when it could no longer be served (see ``App``)."""

    def resolved(
        self, prefix: str = "", outer: RouteOptions | None = None, owner: object = None
    ) -> list[Route | WebSocketRoute | Mount]:
        """Every route with its full path and options merged from the outside in.

        ``owner`` is the app being built: the routes it serves first are the very objects
        that were registered (see ``Route.served_as``).
        """
        base = merge_options(outer or {}, self.defaults)
        prefix = prefix + self.prefix
        routes: list[Route | WebSocketRoute | Mount] = []
        for entry in self._entries:
            if isinstance(entry, tuple):
                router, extra_prefix, options = entry
                routes.extend(
                    router.resolved(prefix + extra_prefix, merge_options(base, options), owner)
                )
            elif isinstance(entry, Mount):
                routes.append(Mount(prefix + entry.path, entry.app, name=entry.name))
            elif isinstance(entry, WebSocketRoute):
                routes.append(
                    WebSocketRoute(
                        _join(prefix, entry.path),
                        entry.endpoint,
                        options=merge_options(base, entry.options),
                    )
                )
            else:
                path, options = entry.declared
                served = entry.served_as(_join(prefix, path), merge_options(base, options), owner)
                routes.append(served)
        return routes


def _join(prefix: str, path: str) -> str:
    if prefix and path == "/":
        return prefix
    return prefix + path


def _check_group_options(options: RouteOptions) -> None:
    check_options(options, "Router/App/include()")
    wrong = sorted(set(options) & ROUTE_ONLY)
    if wrong:
        raise ConfigurationError(
            "prow.E012",
            f"{', '.join(wrong)} describe a single route; set them on the route decorator, "
            "not on a router, an include or the app",
        )


def _looks_like_wsgi(app: Any) -> bool:
    import inspect

    method = getattr(type(app), "__call__", None)  # noqa: B004 - the method, not callability
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(method):
        return False
    # Flask and Django expose synchronous ``__call__(environ, start_response)``.
    return (
        hasattr(app, "wsgi_app")
        or type(app).__name__ == "WSGIHandler"
        or (callable(app) and not hasattr(app, "__await__") and _positional_count(app) == 2)
    )


def _positional_count(app: Any) -> int:
    import inspect

    try:
        params = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):
        return -1
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
