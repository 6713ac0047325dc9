"""``Observability``: metrics, tracing and request-id logs, each off until asked for."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from prow._exceptions import ConfigurationError
from prow._logging import REQUEST_ID
from prow._types import ASGIApp, Message, Receive, Scope, Send
from prow.extensions import Extension
from prow.responses import Response
from prow.scope import ROUTE

if TYPE_CHECKING:
    from prow._app import App
    from prow._routing._route import Route
    from prow.observability._metrics import Metrics

__all__ = ["Observability", "request_id"]

_UNMATCHED = "unmatched"


def request_id() -> str | None:
    """The id of the request being served (with ``Observability(logs=True)``), else None."""
    return REQUEST_ID.get()


class Observability(Extension):
    """Metrics at ``/metrics``, OpenTelemetry spans, and request ids on every log record.

    ::

        app = App(extensions=[Observability(metrics=True, tracing=True, logs=True)])

    ``metrics=True`` counts requests by method, route template and status, their latency
    and how many are in flight (``prometheus-client``), and serves them at
    ``metrics_url``. ``tracing=True`` makes a span per request, named by its route template
    (``GET /items/{item_id}``), continuing the caller's trace (``traceparent``), with a
    child span per SQL statement; it uses OpenTelemetry's global tracer provider unless
    ``tracer_provider`` is given. ``logs=True`` adds the access log
    (``AccessLogMiddleware``: an ``X-Request-ID`` accepted when it is a plain token, or
    generated, and returned) and puts ``request_id`` on every log record made while the
    request is served. ``ready_timeout`` sets how long each ``/readyz`` check may take.

    Whatever is off adds nothing to a request: no middleware, no wrapper.
    """

    def __init__(
        self,
        *,
        metrics: bool = False,
        metrics_url: str = "/metrics",
        tracing: bool = False,
        tracer_provider: Any = None,
        logs: bool = False,
        request_id_header: str = "X-Request-ID",
        ready_timeout: float | None = None,
    ) -> None:
        if not metrics_url.startswith("/"):
            raise ConfigurationError(
                "prow.E320", f"Observability(metrics_url=...) must start with '/': {metrics_url!r}"
            )
        if ready_timeout is not None and not (
            isinstance(ready_timeout, int | float) and ready_timeout > 0
        ):
            raise ConfigurationError(
                "prow.E321",
                "Observability(ready_timeout=...) must be a positive number, "
                f"not {ready_timeout!r}",
            )
        self.metrics = metrics
        self.metrics_url = metrics_url
        self.tracing = tracing
        self.tracer_provider = tracer_provider
        self.logs = logs
        self.request_id_header = request_id_header
        self.ready_timeout = ready_timeout
        self._metrics: Metrics | None = None
        self._tracer: Any = None

    def __repr__(self) -> str:
        on = [name for name in ("metrics", "tracing", "logs") if getattr(self, name)]
        return f"Observability({', '.join(f'{name}=True' for name in on)})"

    @property
    def active(self) -> bool:
        """Whether anything is measured per request."""
        return self.metrics or self.tracing or self.logs

    def setup(self, app: App) -> None:
        if self.ready_timeout is not None:
            app.ready_timeout = self.ready_timeout
        if self.metrics:
            from prow.observability._metrics import Metrics

            self._metrics = Metrics(app)
            self._add_metrics_route(app)
        if self.tracing:
            from prow.observability._tracing import import_otel, instrument_sqlalchemy

            trace = import_otel()
            provider = self.tracer_provider or trace.get_tracer_provider()
            self._tracer = provider.get_tracer("prow")
            if _has_sqlalchemy():
                instrument_sqlalchemy()
        if self.logs:
            _filter_root_handlers()
        if self.active:
            # Added first, so the access log (added next) runs outside it and has made
            # the request id by the time this middleware reads it.
            app.add_middleware(_ObservedMiddleware, observability=self)
        if self.logs:
            from prow.middleware import AccessLogMiddleware

            app.add_middleware(AccessLogMiddleware, request_id_header=self.request_id_header)

    def prepare_route(self, app: App, route: Route) -> None:
        """Let each route tell the middleware its template (for labels and span names)."""
        if not (self.metrics or self.tracing):
            return
        inner = route.handle
        template = route.path

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            scope[ROUTE] = template
            await inner(scope, receive, send)

        route.handle = handle  # type: ignore[method-assign]

    def _add_metrics_route(self, app: App) -> None:
        metrics = self._metrics
        assert metrics is not None

        @app.get(self.metrics_url, include_in_schema=False, name="metrics")
        async def prometheus_metrics() -> Response:
            body, content_type = metrics.exposition()
            return Response(body, headers={"Content-Type": content_type})


class _ObservedMiddleware:
    """Times, counts and traces each HTTP request; sets the request id for log records."""

    def __init__(self, app: ASGIApp, *, observability: Observability) -> None:
        self.app = app
        self.metrics = observability._metrics
        self.tracer = observability._tracer
        self.logs = observability.logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = None
        if self.logs:
            state = scope.get("state")
            token = REQUEST_ID.set(state.get("request_id") if state else None)
        try:
            if self.tracer is not None:
                await self._traced(scope, receive, send)
            else:
                await self._measured(scope, receive, send)
        finally:
            if token is not None:
                REQUEST_ID.reset(token)

    async def _measured(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Serve the request; record its metrics; return its status (500 when none)."""
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        metrics = self.metrics
        if metrics is None:
            await self.app(scope, receive, watching)
            return status
        method = scope["method"]
        in_progress = metrics.in_progress.labels(method)
        in_progress.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, watching)
        finally:
            elapsed = time.perf_counter() - started
            in_progress.dec()
            route = scope.get(ROUTE, _UNMATCHED)
            metrics.requests.labels(method, route, str(status)).inc()
            metrics.duration.labels(method, route).observe(elapsed)
        return status

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        from opentelemetry import context, propagate, trace

        from prow.observability._tracing import TRACER

        method = scope["method"]
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = propagate.extract(carrier)
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": scope.get("scheme", "http"),
            },
        )
        attached = context.attach(trace.set_span_in_context(span, parent))
        tracer_token = TRACER.set(self.tracer)
        status = 500
        try:
            status = await self._measured(scope, receive, send)
        except BaseException as exc:
            span.record_exception(exc)
            raise
        finally:
            TRACER.reset(tracer_token)
            context.detach(attached)
            route = scope.get(ROUTE)
            if route is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            span.end()


def _has_sqlalchemy() -> bool:
    try:
        import sqlalchemy  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def _filter_root_handlers() -> None:
    """Put a ``RequestIdFilter`` on the root logger's handlers that have none."""
    from prow._logging import RequestIdFilter

    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
