"""``App``: the ASGI application — routes, middleware, lifespan, errors, API docs."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack

from prow._csrf import CsrfGuard
from prow._datastructures import State
from prow._errors import (
    error_page,
    log_disconnect,
    log_unhandled,
    login_redirect,
    prefers_html,
    problem_response,
    server_error_response,
)
from prow._exceptions import ConfigurationError, HTTPError
from prow._lifespan import AppLifespan
from prow._request import DEFAULT_MAX_BODY_SIZE, ClientDisconnect, Request
from prow._routing._options import RouteOptions
from prow._routing._overrides import DependencyOverrides
from prow._routing._route import Mount, Route, WebSocketRoute
from prow._routing._router import Router
from prow._routing._table import RouteTable
from prow._security import (
    SecurityHeaders,
    SigningKeys,
    build_header_lists,
    check_hosts,
    wrap_send,
)
from prow._types import ASGIApp, Message, Receive, Scope, Send
from prow.extensions import Extension
from prow.extensions._set import ExtensionSet, ExtensionT
from prow.middleware._trustedhost import HostChecker
from prow.responses import RedirectResponse, Response
from prow.scope import HEADERS

__all__ = ["App"]

ExceptionHandler = Callable[[Request, Any], Any]
#: Renders a browser's error page; ``None`` falls back to the built-in page.
ErrorPageRenderer = Callable[[Request, HTTPError], Any]
Lifespan = Callable[["App"], contextlib.AbstractAsyncContextManager[Mapping[str, Any] | None]]


class App(AppLifespan, Router):
    """A prow application: an ASGI 3 callable that is also the root router.

    Everything learnt from handlers is compiled when the app starts (lifespan
    start-up, or the first request): a configuration mistake fails there with a
    ``prow.E...`` code, not in the middle of serving.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        title: str = "prow",
        version: str = "0.1.0",
        middleware: Sequence[Any] = (),
        exception_handlers: Mapping[type[BaseException] | int, ExceptionHandler] | None = None,
        lifespan: Lifespan | None = None,
        on_startup: Sequence[Callable[[], Any]] = (),
        on_shutdown: Sequence[Callable[[], Any]] = (),
        openapi_url: str | None = "/openapi.json",
        docs_url: str | None = "/docs",
        redoc_url: str | None = "/redoc",
        redirect_slashes: bool = True,
        openapi: Mapping[str, Any] | None = None,
        database_url: str | None = None,
        secret_key: str | None = None,
        allowed_hosts: Sequence[str] | None = None,
        security_headers: SecurityHeaders | None = SecurityHeaders(),  # noqa: B008 - frozen
        csrf_trusted_origins: Sequence[str] = (),
        extensions: Sequence[Extension] = (),
        health_url: str | None = "/healthz",
        ready_url: str | None = "/readyz",
        **options: Unpack[RouteOptions],
    ) -> None:
        if isinstance(extensions, Extension):
            extensions = [extensions]  # App(extensions=Database(...)): one is a list of one
        # The app-wide body limit applies to every request (also outside routes); a route's
        # own ``max_body_size`` option overrides it for that route.
        max_body_size = options.pop("max_body_size", DEFAULT_MAX_BODY_SIZE)
        description = options.pop("description", None)
        summary = options.pop("summary", None)
        super().__init__("", **options)
        self.debug = debug
        self.title = title
        self.version = version
        self.description = description
        self.summary = summary
        self.openapi_url = openapi_url
        self.docs_url = docs_url
        self.redoc_url = redoc_url
        #: Liveness and readiness (``prow._health``); ``None`` leaves the path out.
        self.health_url = health_url
        self.ready_url = ready_url
        #: Seconds each readiness check may take, and the ``Retry-After`` of a 503 from it.
        self.ready_timeout = 1.0
        self.ready_retry_after = 5
        self.openapi_settings: dict[str, Any] = dict(openapi or {})
        self.redirect_slashes = redirect_slashes
        self.max_body_size = max_body_size
        self.secret_key = secret_key
        self._keys = SigningKeys(secret_key)
        #: ``None``: any Host is answered; otherwise the host patterns served (see ``is_allowed``).
        self.allowed_hosts = check_hosts(allowed_hosts)
        self._hosts = None if self.allowed_hosts is None else HostChecker(self.allowed_hosts)
        self.security_headers = security_headers
        self._http_headers, self._https_headers = build_header_lists(security_headers)
        self.csrf_guard = CsrfGuard(csrf_trusted_origins)
        #: Read by ``prow.db`` (the core never connects to a database itself).
        self.database_url = database_url
        self.state = State()
        self.dependency_overrides = DependencyOverrides(self)
        self.exception_handlers: dict[type[BaseException] | int, ExceptionHandler] = dict(
            exception_handlers or {}
        )
        #: Where a browser asking for a page that needs a login (401) is sent, with ``next=``;
        #: ``None`` answers such a page with the 401 error page. ``prow.auth.Accounts`` sets it.
        self.login_url: str | None = None
        #: Renders error pages for browsers (``(request, error) -> Response | None``); set by
        #: ``prow.templating.Templates`` to use ``404.html``-style templates. ``None``: built-in.
        self.error_page_renderer: ErrorPageRenderer | None = None
        self.user_middleware: list[Any] = list(middleware)
        self._lifespan = lifespan
        self._on_startup = list(on_startup)
        self._on_shutdown = list(on_shutdown)
        self._routes: list[Route | WebSocketRoute | Mount] | None = None
        self._table = RouteTable()
        self._mounts: list[Mount] = []
        self._names: dict[str, Route | WebSocketRoute | Mount] = {}
        self._stack: ASGIApp | None = None
        self._stale = False
        self._openapi: dict[str, Any] | None = None
        self._extensions = ExtensionSet(self)
        for extension in extensions:
            self.install(extension)

    # -- configuration -------------------------------------------------------------------

    def install(self, extension: ExtensionT) -> ExtensionT:
        """Install a battery (an :class:`~prow.extensions.Extension`); returns it.

        It is set up when the app is built; installing after that is ``prow.E021``.
        """
        if self._routes is not None:
            raise ConfigurationError(
                "prow.E021",
                f"{type(extension).__name__} was installed after the app started; "
                "install extensions while setting the app up (App(extensions=[...]))",
            )
        self._extensions.add(extension)
        return extension

    def extension(self, kind: type[ExtensionT]) -> ExtensionT:
        """The installed extension of class ``kind`` (or a subclass); ``prow.E025`` if none."""
        if not (isinstance(kind, type) and issubclass(kind, Extension)):
            raise TypeError(
                f"app.extension() takes an Extension class such as Database, not {kind!r}"
            )
        found = self._extensions.find(kind)
        if found is None:
            raise ConfigurationError(
                "prow.E025",
                f"this app has no {kind.__name__} extension; install one with "
                f"App(extensions=[{kind.__name__}(...)]) or app.install({kind.__name__}(...))",
            )
        return found

    def has_extension(self, kind: type[Extension]) -> bool:
        """Whether an extension of class ``kind`` (or a subclass) is installed."""
        return self._extensions.find(kind) is not None

    @property
    def extensions(self) -> tuple[Extension, ...]:
        """The installed extensions, in the order they are set up."""
        return self._extensions.ordered()

    def _refuse_late(self, what: str) -> None:
        # A route added after the table was compiled would never be served: say so
        # instead of answering 404 for it.
        if self._routes is not None and not self._extensions.setting_up:
            raise ConfigurationError(
                "prow.E022",
                f"the {what} was added after the app was built (app.build(), the server's "
                "start-up or the first request); add routes while setting the app up",
            )

    def add_middleware(self, cls: Any, *args: Any, **kwargs: Any) -> None:
        """Add a pure-ASGI middleware; the last added runs first (outermost)."""
        if self._stack is not None or (
            self._routes is not None and not self._extensions.setting_up
        ):
            raise ConfigurationError(
                "prow.E020",
                "middleware was added after the app started; add it while setting the app up "
                "(App(middleware=[...]) or app.add_middleware at import time, or in an "
                "extension's setup)",
            )
        from prow.middleware import Middleware

        self.user_middleware.insert(0, Middleware(cls, *args, **kwargs))

    def exception_handler(self, key: type[BaseException] | int) -> Callable[[Any], Any]:
        """Decorator: answer exceptions of a type (or an HTTP status) with your own response."""

        def register(handler: Any) -> Any:
            self.exception_handlers[key] = handler
            return handler

        return register

    def on_startup(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: run ``func`` (sync or async) when the app starts."""
        self._on_startup.append(func)
        return func

    def on_shutdown(self, func: Callable[[], Any]) -> Callable[[], Any]:
        """Decorator: run ``func`` (sync or async) when the app stops."""
        self._on_shutdown.append(func)
        return func

    def signing_key(self, purpose: str) -> bytes:
        """The secret key for one feature (``"sessions"``, ``"csrf"``...), derived from
        ``secret_key``; each purpose gets its own key.

        Raises ``ConfigurationError("prow.E100")`` when ``secret_key`` is missing, a known
        placeholder or shorter than 32 characters and ``debug`` is off. In debug mode a
        missing key is replaced by a random per-process key (with a warning). Call it at
        start-up (e.g. in a middleware's ``setup_app``) so a missing key stops the app there.
        """
        return self._keys.key(purpose, debug=self.debug)

    # -- the compiled application --------------------------------------------------------

    @property
    def routes(self) -> list[Route | WebSocketRoute | Mount]:
        """Every route of the app (including included routers and mounts), in order."""
        self.build()
        assert self._routes is not None
        return list(self._routes)

    def url_for(self, name: str, /, **params: Any) -> str:
        """The path of the route called ``name`` with ``params`` filled in."""
        self.build()
        route = self._names.get(name)
        if route is None:
            known = ", ".join(sorted(self._names)) or "none"
            raise LookupError(f"no route is named {name!r}; named routes: {known}")
        return route.url_path_for(**params)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this app (built once, from the compiled plans)."""
        self.build()
        if self._openapi is None:
            from prow.openapi import build_openapi

            self._openapi = build_openapi(self)
        return self._openapi

    def build(self) -> None:
        """Set the extensions up and compile routes, plans and middleware, once.

        The server's start-up (and the first request, or ``TestClient``) builds the app;
        call it yourself to find configuration mistakes (``prow.E...``) right away. After
        it, routes, middleware and extensions can no longer be added.
        """
        if self._routes is not None and not self._stale:
            return
        if self._routes is None:
            self._extensions.set_up()
            if self._stack is None:
                # A middleware's ``setup_app`` may still install an extension it needs
                # (a database-backed session store installs the Database).
                self._stack = self._build_stack()
                self._extensions.set_up()
            routes = self._compile()
            missing = self._extensions.needed_by(routes)
            if missing:
                # A handler uses a battery nobody installed (``Session`` without
                # ``Database``): install its defaults now, at start-up, and compile again.
                for extension in missing:
                    self._extensions.add(extension)
                self._extensions.set_up()
                routes = self._compile()
            self._routes = routes
        else:
            for route in self._routes:
                if isinstance(route, Route | WebSocketRoute):
                    route.prepare(self.dependency_overrides)
        self._stale = False
        self._openapi = None
        if self._stack is None:
            self._stack = self._build_stack()

    @property
    def is_built(self) -> bool:
        """Whether :meth:`build` has run: routes, middleware and extensions are fixed."""
        return self._routes is not None

    def _compile(self) -> list[Route | WebSocketRoute | Mount]:
        """Resolve every route, index it in the route table and plan its parameters."""
        self._table, self._names, self._mounts = RouteTable(), {}, []
        routes = self.resolved(owner=self) + self._docs_routes()
        routes += self._health_routes(routes)
        try:
            self._index(routes)
            for route in routes:
                if isinstance(route, Route | WebSocketRoute):
                    route.prepare(self.dependency_overrides)
                    route.protect(self.csrf_guard)
            self._extensions.prepare_routes(routes)
        except Exception:
            # Leave nothing half-built: the next attempt reports the same mistake.
            self._table, self._names, self._mounts = RouteTable(), {}, []
            raise
        return routes

    def _index(self, routes: list[Route | WebSocketRoute | Mount]) -> None:
        for route in routes:
            if (
                route.name is not None and not isinstance(route, Mount | WebSocketRoute)
            ) or route.name is not None:
                self._names.setdefault(route.name, route)
            if isinstance(route, Mount):
                self._mounts.append(route)
                continue
            entry = self._table.entry_for(route.template)
            if isinstance(route, WebSocketRoute):
                entry.websocket = route
                continue
            for method in route.methods:
                if method in entry.methods:
                    raise ConfigurationError(
                        "prow.E007",
                        f"{method} {route.path} is registered twice "
                        f"({entry.methods[method].name} and {route.name})",
                    )
                entry.methods[method] = route
        self._mounts.sort(key=lambda m: len(m.path), reverse=True)
        self._table.finish()

    def _docs_routes(self) -> list[Route | WebSocketRoute | Mount]:
        from prow.openapi import docs_router

        router = docs_router(self)
        return [] if router is None else router.resolved()

    def _health_routes(
        self, routes: list[Route | WebSocketRoute | Mount]
    ) -> list[Route | WebSocketRoute | Mount]:
        if self.health_url is None and self.ready_url is None:
            return []
        from prow._health import health_routes

        # A project's own /healthz (or a mount under a prefix covering it) wins over ours.
        taken = {r.path for r in routes if not isinstance(r, Mount)}
        for url in (self.health_url, self.ready_url):
            if url and any(isinstance(r, Mount) and r.path and r.covers(url) for r in routes):
                taken.add(url)
        return list(health_routes(self, taken))

    def _build_stack(self) -> ASGIApp:
        app: ASGIApp = self._dispatch
        for spec in reversed(self.user_middleware):
            app = spec.build(app) if hasattr(spec, "build") else spec(app)
            # Extension point: a middleware that needs the app's settings (its secret key,
            # ``debug``) reads them here, once, and can refuse to start with a prow.E code.
            setup = getattr(app, "setup_app", None)
            if setup is not None:
                setup(self)
        return app

    # -- serving -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        kind = scope["type"]
        if kind == "lifespan":
            await self._run_lifespan(scope, receive, send)
            return
        if self._stack is None or self._stale:
            self.build()
        assert self._stack is not None
        if kind == "http":
            # Picked from lists built once; added where the response starts, so every
            # answer carries them: prow's, a mounted app's, a raw ASGI one's.
            # Built once; prow's responses add them as they start (a plain call), and any
            # other answer gets them from the wrapped send: none can go without.
            scope[HEADERS] = (
                self._https_headers if scope.get("scheme") == "https" else self._http_headers
            )
            if self.user_middleware:
                send = wrap_send(scope, send)  # a middleware may answer, or copy the scope
        if self._hosts is not None and not self._hosts.allows(scope):
            await self._wrong_host(scope, receive, send)
        elif self.user_middleware and kind == "http":
            await self._guarded(scope, receive, send)
        else:
            await self._stack(scope, receive, send)

    async def _wrong_host(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Threat: links and cache keys built from a forged Host (password-reset poisoning).
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "invalid host"})
        elif scope["type"] == "http":
            error = HTTPError(400, "Invalid Host header: this host is not in allowed_hosts")
            await self._send_error(scope, receive, send, error)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 500 when a middleware raises before a response has started."""
        started = finished = False

        async def tracking_send(message: Message) -> None:
            nonlocal started, finished
            kind = message["type"]
            if kind == "http.response.start":
                started = True
            elif kind == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        assert self._stack is not None
        try:
            await self._stack(scope, receive, tracking_send)
        except Exception as exc:
            request = Request(scope, receive)
            if isinstance(exc, ClientDisconnect):
                log_disconnect(request)
            elif started and not finished:
                # Half a response: only the server can end it, by closing the connection.
                raise
            elif finished:
                log_unhandled(request, exc, answered=False)
            else:
                response, _ = await self.exception_response(request, exc)
                await response(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        root = scope.get("root_path")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        method = scope.get("method") if scope["type"] == "http" else None
        found = self._table.lookup(path, method)
        if found is not None:
            entry, params = found
            scope["path_params"] = params
            if method is None:
                if entry.websocket is not None:
                    await entry.websocket.handle(scope, receive, send)
                    return
            else:
                route = entry.methods.get(method)
                if route is not None:
                    await route.handle(scope, receive, send)
                    return
                # A path served only by a websocket has no HTTP methods to allow: 404.
                if entry.methods:
                    await self._not_allowed(scope, receive, send, entry.allow)
                    return
        await self._fallback(scope, receive, send, path)

    async def _fallback(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        for mount in self._mounts:
            if mount.covers(path):
                send = wrap_send(scope, send)  # another app's answers get the headers too
                await mount.handle(scope, receive, send)
                return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "no such route"})
            return
        if self.redirect_slashes and path != "/":
            other = path[:-1] if path.endswith("/") else path + "/"
            if self._table.lookup(other, scope["method"]) is not None:
                await self._redirect_slash(scope, receive, send, other)
                return
        await self._send_error(scope, receive, send, HTTPError(404, f"No route matches {path}"))

    async def _redirect_slash(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        # Redirect only to a path on this same host: the target is built from the
        # request path, never from a header, so it cannot point elsewhere.
        root = scope.get("root_path", "")
        target = root + path
        if target.startswith("//"):
            target = "/" + target.lstrip("/")
        query = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        await RedirectResponse(target, status_code=307)(scope, receive, send)

    async def _not_allowed(self, scope: Scope, receive: Receive, send: Send, allow: str) -> None:
        error = HTTPError(
            405, f"{scope['method']} is not allowed here; allowed: {allow}", {"Allow": allow}
        )
        await self._send_error(scope, receive, send, error)

    async def _send_error(self, scope: Scope, receive: Receive, send: Send, exc: HTTPError) -> None:
        response, _ = await self.exception_response(Request(scope, receive), exc)
        await response(scope, receive, send)

    async def exception_response(
        self, request: Request, exc: Exception
    ) -> tuple[Response, Exception | None]:
        """The response for ``exc``, and ``exc`` again when nobody handled it.

        An unhandled exception is answered 500, logged once on ``prow.error`` and reported
        on the scope (the test client raises it in the test); it is not re-raised to the
        server, which would drop the client's keep-alive connection.
        """
        handler = self._handler_for(exc)
        if handler is not None:
            result = handler(request, exc)
            if inspect.isawaitable(result):
                result = await result
            if not isinstance(result, Response):
                raise TypeError(f"exception handler {handler!r} must return a Response")
            return result, None
        if isinstance(exc, HTTPError):
            if prefers_html(request):
                return await self._error_page(request, exc), None
            return problem_response(exc), None
        log_unhandled(request, exc)
        if not self.debug and prefers_html(request):
            return await self._error_page(request, HTTPError(500)), exc
        return server_error_response(request, exc, self.debug), exc

    async def _error_page(self, request: Request, exc: HTTPError) -> Response:
        """A browser's answer to an error: the login page for 401 on a GET, else a page."""
        if exc.status == 401 and self.login_url and request.method in ("GET", "HEAD"):
            return login_redirect(request, self.login_url)
        render = self.error_page_renderer
        if render is not None:
            result = render(request, exc)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, Response):
                return result
        return error_page(exc)

    def _handler_for(self, exc: Exception) -> ExceptionHandler | None:
        handlers = self.exception_handlers
        if not handlers:
            return None
        if isinstance(exc, HTTPError) and exc.status in handlers:
            return handlers[exc.status]
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        if not isinstance(exc, HTTPError):
            # As in Starlette, a handler for status 500 answers every unhandled error.
            return handlers.get(500)
        return None
