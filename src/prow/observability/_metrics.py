"""Prometheus metrics (``prometheus-client``): requests, latency, in-flight, the DB pool.

Each app keeps its metrics in a registry of its own (two apps in one process do not mix
their counts), unless ``PROMETHEUS_MULTIPROC_DIR`` is set: then prometheus-client writes
every worker's values to files in that folder and ``/metrics`` adds them up
(``MultiProcessCollector``), so any worker answers for all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["Metrics", "import_prometheus"]

#: Seconds; the defaults of prometheus-client, plus the slow tail a web request can have.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)


def import_prometheus() -> Any:
    """The ``prometheus_client`` module, or an error that says how to install it."""
    try:
        import prometheus_client
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        from prow._extras import missing_extra

        raise missing_extra("Observability(metrics=True)", exc) from exc
    return prometheus_client


class Metrics:
    """The metric objects of one app, and the text ``/metrics`` answers with."""

    def __init__(self, app: App, namespace: str = "prow") -> None:
        prometheus = import_prometheus()
        self.app = app
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multi-process mode the values live in files: nothing is registered here, and
        # the scrape builds a registry that reads them all.
        self.registry = None if self.multiprocess else prometheus.CollectorRegistry()
        options: dict[str, Any] = {"namespace": namespace, "registry": self.registry}
        self.requests = prometheus.Counter(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            **options,
        )
        self.duration = prometheus.Histogram(
            "http_request_duration_seconds",
            "Time from the request's arrival to the end of its answer",
            ["method", "route"],
            buckets=BUCKETS,
            **options,
        )
        self.in_progress = prometheus.Gauge(
            "http_requests_in_progress",
            "HTTP requests being handled now",
            ["method"],
            multiprocess_mode="livesum",
            **options,
        )
        if self.registry is not None:
            self.registry.register(_PoolCollector(app, namespace))

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        prometheus = import_prometheus()
        registry = self.registry
        if registry is None:
            from prometheus_client import multiprocess

            registry = prometheus.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            registry.register(_PoolCollector(self.app, "prow"))
        return prometheus.generate_latest(registry), prometheus.CONTENT_TYPE_LATEST


class _PoolCollector:
    """The database pool's connections, read when scraped (nothing is counted per request)."""

    def __init__(self, app: App, namespace: str) -> None:
        self.app = app
        self.name = f"{namespace}_db_pool_connections"

    def describe(self) -> list[Any]:
        return []  # unknown until the engine exists; an empty list registers it unchecked

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        usage = _pool_usage(self.app)
        if not usage:
            return
        family = GaugeMetricFamily(
            self.name, "Database pool connections by state (this process)", labels=["state"]
        )
        for state, count in sorted(usage.items()):
            family.add_metric([state], count)
        yield family


def _pool_usage(app: App) -> dict[str, int]:
    import sys

    if "prow.db" not in sys.modules:  # no database battery in this process
        return {}
    from prow.db import Database

    if not app.has_extension(Database):
        return {}
    return app.extension(Database).pool_usage()
