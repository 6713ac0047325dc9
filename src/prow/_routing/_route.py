"""Routes: each answers "do I match", "handle", and "build my URL"."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from prow._csrf import UNSAFE_METHODS, CsrfGuard
from prow._errors import log_disconnect, log_unhandled
from prow._exceptions import (
    HTTPError,
    RequestValidationError,
    WebSocketDisconnect,
    WebSocketError,
)
from prow._params._plan import describe
from prow._params._solve import Context, RoutePlan, close_exits, plan_route
from prow._request import ClientDisconnect, HTTPConnection, Request
from prow._routing._options import RouteOptions
from prow._routing._path import PathTemplate
from prow._routing._render import UNSET, ResponsePlan
from prow._types import ASGIApp, Receive, Scope, Send
from prow._websocket import WebSocket, WebSocketState
from prow.background import BackgroundTasks
from prow.responses import Response
from prow.scope import HEADERS, MAX_BODY_SIZE

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["BaseRoute", "Mount", "Route", "WebSocketRoute"]

logger = logging.getLogger("prow.error")
_DEFAULT_GUARD = CsrfGuard()  # until an App installs its own (a route served outside one)

SPECIAL_TYPES: dict[type, str] = {
    Request: "request",
    WebSocket: "websocket",
    HTTPConnection: "connection",
    BackgroundTasks: "background",
    Response: "response",
}


class BaseRoute:
    """What every entry of ``app.routes`` has: a path, a name and a URL builder."""

    path: str
    name: str | None
    template: PathTemplate

    def matches(self, path: str) -> dict[str, Any] | None:
        """The path parameters when ``path`` fits this route's template, else None."""
        return self.template.match(path)

    def url_path_for(self, **params: Any) -> str:
        return self.template.format(params)


class Route(BaseRoute):
    """An HTTP route: a path template, methods, a handler and its resolved options."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: list[str] | tuple[str, ...] | None = None,
        options: RouteOptions | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.methods = frozenset(m.upper() for m in (methods or ("GET",)))
        #: The path and options as registered, before prefixes and outer options apply.
        self.declared: tuple[str, RouteOptions] = (path, options or {})
        self._owner: object | None = None
        self._bind(path, options or {})

    def _bind(self, path: str, options: RouteOptions) -> None:
        self.path = path
        self.options: RouteOptions = options
        self.name = self.options.get("name") or getattr(self.endpoint, "__name__", None)
        self.template = PathTemplate(path)
        self.plan: RoutePlan | None = None
        self.response_plan: ResponsePlan | None = None
        #: Run before the handler on unsafe methods; None when the route needs no CSRF check.
        self.csrf_guard: CsrfGuard | None = None
        #: ``csrf="strict"``: check the origin of requests without cookies too (login CSRF).
        self.csrf_strict = self.options.get("csrf") == "strict"
        self.max_body_size: int | None = self.options.get("max_body_size")
        #: Nothing in the plan can see the request's credentials (see AppHeaders.impersonal).
        self.impersonal = False

    def __repr__(self) -> str:
        return f"Route({self.path!r}, methods={sorted(self.methods)}, name={self.name!r})"

    def served_as(self, path: str, options: RouteOptions, owner: object) -> Route:
        """This route with its full path and resolved options, for the app ``owner``.

        For the first app that serves it, that is this very object, so the ``Route`` that
        ``add_route`` returned is the one that runs (its ``path`` and ``plan`` are the
        served ones). Another app, or the same router included twice, gets a copy: two
        apps never share a route's plan or CSRF guard.
        """
        if self._owner is None or (
            self._owner is owner and self.path == path and self.options == options
        ):
            self._owner = owner
            if (path, options) != (self.path, self.options):
                self._bind(path, options)
            return self
        copy = Route(self.declared[0], self.endpoint, methods=tuple(self.methods))
        copy._owner = owner
        copy._bind(path, options)
        return copy

    def protect(self, guard: CsrfGuard) -> None:
        """Install the app's CSRF check, unless no method is unsafe or ``csrf=False``."""
        wanted = self.options.get("csrf", True) and not self.methods.isdisjoint(UNSAFE_METHODS)
        self.csrf_guard = guard if wanted else None

    def prepare(self, overrides: Mapping[Callable[..., Any], Callable[..., Any]]) -> None:
        """Compile the parameter and response plans (at start-up, or when overrides change)."""
        options = self.options
        self.plan = plan_route(
            self.endpoint,
            list(options.get("dependencies", [])),
            self.template.names,
            SPECIAL_TYPES,
            overrides,
            self.name or describe(self.endpoint),
        )
        self.impersonal = not self.plan.personal
        if self.response_plan is None:
            self.response_plan = ResponsePlan(
                self.endpoint,
                options.get("status_code"),
                options.get("response_model", UNSET),
                options.get("response_class"),
            )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_body_size is not None:
            scope[MAX_BODY_SIZE] = self.max_body_size
        request = Request(scope, receive)
        ctx = Context(request)
        response: Response | None
        try:
            guard = self.csrf_guard
            if guard is not None and guard.applies(scope, self.csrf_strict):
                await guard.check(request, self.csrf_strict)
            response = await self._respond(ctx)
            if self.impersonal and HEADERS in scope:  # an error page keeps the full check
                scope[HEADERS] = scope[HEADERS].impersonal
        except Exception as exc:
            response = await _error_response(ctx, request, exc)
        try:
            if response is not None:  # None: the client has gone, there is nobody to answer
                await response(scope, receive, send)
        finally:
            if ctx.exits:
                await _close_after_response(ctx, request)
            if request._form is not None:
                await request.close()

    async def _respond(self, ctx: Context) -> Response:
        assert self.plan is not None and self.response_plan is not None
        result = await self.plan.run(ctx)
        response = self.response_plan.render(result)
        if ctx.response is not None:
            _merge_into(response, ctx.response)
        if ctx.background is not None and response.background is None:
            response.background = ctx.background
        return response


async def _error_response(ctx: Context, request: Request, exc: Exception) -> Response | None:
    """Let generator dependencies see ``exc`` first, then ask the app for an answer.

    None when the client disconnected while sending its body: nobody is left to answer.
    An unhandled error is answered 500 and logged by the app, not re-raised (see
    ``App.exception_response``).
    """
    error = exc
    exits = ctx.exits + ctx.early_exits  # closed newest first: function-scoped ones first
    if exits:
        closed = await close_exits(exits, exc)
        error = closed if isinstance(closed, Exception) else exc
        ctx.exits = ctx.early_exits = []
    if isinstance(error, ClientDisconnect):
        log_disconnect(request)
        return None
    app: App = request.scope["app"]
    response, _ = await app.exception_response(request, error)
    return response


async def _close_after_response(ctx: Context, request: Request) -> None:
    error = await close_exits(ctx.exits, None)
    ctx.exits = []
    if isinstance(error, Exception):
        # The answer is already out: re-raising would only make the server drop the connection.
        log_unhandled(request, error, answered=False)
    elif error is not None:
        raise error  # cancellation and the like keep propagating


def _merge_into(response: Response, extra: Response) -> None:
    """Copy headers, cookies and status set on an injected ``Response`` parameter."""
    if extra.status_code:
        response.status_code = extra.status_code
    if not extra._plain:
        response._plain = False
    for key, value in extra.raw_headers:
        if key not in (b"content-length", b"content-type"):
            response.raw_headers.append((key, value))


class WebSocketRoute(BaseRoute):
    """A websocket route; the handler takes a ``WebSocket`` and typed parameters like HTTP ones."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        options: RouteOptions | None = None,
    ) -> None:
        self.path = path
        self.endpoint = endpoint
        self.options: RouteOptions = options or {}
        self.name = self.options.get("name") or getattr(endpoint, "__name__", None)
        self.template = PathTemplate(path)
        self.plan: RoutePlan | None = None
        csrf = self.options.get("csrf", True)
        #: Checks the handshake's Origin (cross-site websocket hijacking); None with csrf=False.
        self.csrf_guard: CsrfGuard | None = _DEFAULT_GUARD if csrf else None
        self.csrf_strict = csrf == "strict"

    def __repr__(self) -> str:
        return f"WebSocketRoute({self.path!r}, name={self.name!r})"

    def protect(self, guard: CsrfGuard) -> None:
        """Use the app's CSRF guard (its trusted origins), unless ``csrf=False``."""
        if self.csrf_guard is not None:
            self.csrf_guard = guard

    def prepare(self, overrides: Mapping[Callable[..., Any], Callable[..., Any]]) -> None:
        self.plan = plan_route(
            self.endpoint,
            list(self.options.get("dependencies", [])),
            self.template.names,
            SPECIAL_TYPES,
            overrides,
            self.name or describe(self.endpoint),
        )
        if self.plan.body is not None:
            from prow._exceptions import ConfigurationError

            raise ConfigurationError(
                "prow.E004",
                f"websocket handler {describe(self.endpoint)} declares a request body; "
                "websockets have none. Read messages with websocket.receive_json() instead.",
            )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.plan is not None
        websocket = WebSocket(scope, receive, send)
        if self.csrf_guard is not None:
            # Cross-site websocket hijacking: refuse before the handler (or any dependency
            # reading the session) runs. Handshakes without cookies return at once.
            reason = self.csrf_guard.websocket(scope, strict=self.csrf_strict)
            if reason is not None:
                # A close reason is at most 123 bytes of UTF-8.
                short = reason.encode()[:120].decode(errors="ignore")
                await websocket.close(1008, short)
                return
        ctx = Context(websocket)
        error: BaseException | None = None
        try:
            await self.plan.run(ctx)
        except Exception as exc:
            error = exc
            await _close_for(websocket, exc)
        finally:
            exits = ctx.exits + ctx.early_exits
            if exits:
                error = await close_exits(exits, error)
        if error is not None and not _expected(error):
            raise error


def _expected(exc: BaseException) -> bool:
    return isinstance(exc, WebSocketDisconnect | WebSocketError | HTTPError)


async def _close_for(websocket: WebSocket, exc: Exception) -> None:
    if websocket.client_state is WebSocketState.DISCONNECTED:
        return
    if isinstance(exc, WebSocketDisconnect):
        return
    if isinstance(exc, WebSocketError):
        await websocket.close(exc.code, exc.reason)
    elif isinstance(exc, RequestValidationError):
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors)
        await websocket.close(1008, f"invalid parameters: {fields}"[:120])
    elif isinstance(exc, HTTPError):
        await websocket.close(1008, str(exc.detail)[:120])
    else:
        await websocket.close(1011, "internal error")


class Mount(BaseRoute):
    """Another ASGI app (a static folder, a sub-application, a WSGI app) under a path prefix.

    The mounted app sees the full ``path`` and a ``root_path`` extended by the prefix,
    so it can rebuild its own URLs.
    """

    def __init__(self, path: str, app: ASGIApp, *, name: str | None = None) -> None:
        self.path = path.rstrip("/")
        self.app = app
        self.name = name
        self.template = PathTemplate(self.path + "/{path:path}")

    def __repr__(self) -> str:
        return f"Mount({self.path!r}, name={self.name!r})"

    def covers(self, path: str) -> bool:
        return path == self.path or path.startswith(self.path + "/") or not self.path

    def url_path_for(self, **params: Any) -> str:
        rest = str(params.pop("path", "")).lstrip("/")
        if params:
            raise ValueError(f"a mount builds URLs from 'path' only; got {sorted(params)}")
        return f"{self.path}/{rest}"

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + self.path
        await self.app(child, receive, send)
