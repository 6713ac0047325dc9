"""Observability: health checks, Prometheus metrics, OpenTelemetry traces, request-id logs.

Every app answers ``/healthz`` (liveness) and ``/readyz`` (readiness: each extension's
``ready`` check, within a timeout) without this package. The rest is off until asked for::

    from prow import App
    from prow.observability import Observability

    app = App(extensions=[Observability(metrics=True, tracing=True, logs=True)])

See ``docs/observability.md``. Metrics need ``prometheus-client`` and tracing
``opentelemetry-api``: ``pip install 'prow[observability]'``.
"""

from __future__ import annotations

from prow.observability._extension import Observability, request_id

__all__ = ["Observability", "request_id"]
