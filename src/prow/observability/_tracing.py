"""OpenTelemetry tracing through ``opentelemetry-api``: a span per request, one per SQL statement.

The API alone records nothing (its default provider hands out non-recording spans); an
application that wants traces configures the SDK and an exporter once at start-up, as
OpenTelemetry's own docs show, or passes ``Observability(tracer_provider=...)``.

SQL spans come from SQLAlchemy's cursor events, listened to once per process on the
``Engine`` class. A statement gets a span only while a traced request is running (its
tracer is in :data:`TRACER`, a context variable): other apps in the process, scripts and
migrations pay one context-variable read per statement.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

__all__ = ["TRACER", "import_otel", "instrument_sqlalchemy"]

#: The tracer of the request being served, when its app traces; None otherwise.
TRACER: contextvars.ContextVar[Any] = contextvars.ContextVar("prow.tracer", default=None)

_SPAN = "_prow_span"
_installed = False
_lock = threading.Lock()


def import_otel() -> Any:
    """The ``opentelemetry.trace`` module, or an error that says how to install it."""
    try:
        from opentelemetry import trace
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        from prow._extras import missing_extra

        raise missing_extra("Observability(tracing=True)", exc) from exc
    return trace


def instrument_sqlalchemy() -> None:
    """Listen to SQLAlchemy's cursor events (once per process)."""
    global _installed  # noqa: PLW0603 - one listener per process, whatever the apps
    with _lock:
        if _installed:
            return
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", _before)
        event.listen(Engine, "after_cursor_execute", _after)
        event.listen(Engine, "handle_error", _failed)
        _installed = True


def _before(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    tracer = TRACER.get()
    if tracer is None or context is None:
        return
    trace = import_otel()
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    dialect = conn.dialect.name
    span = tracer.start_span(
        f"{operation} {dialect}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "db.system": dialect,
            "db.operation.name": operation,
            # The statement's text only: parameters (passwords, personal data) never.
            "db.query.text": statement,
        },
    )
    setattr(context, _SPAN, span)


def _after(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    span = getattr(context, _SPAN, None)
    if span is not None:
        span.end()
        setattr(context, _SPAN, None)


def _failed(exception_context: Any) -> None:
    context = exception_context.execution_context
    span = getattr(context, _SPAN, None) if context is not None else None
    if span is None:
        return
    trace = import_otel()
    error = exception_context.original_exception
    span.record_exception(error)
    span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
    span.end()
    setattr(context, _SPAN, None)
