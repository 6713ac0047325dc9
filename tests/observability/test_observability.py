"""Metrics, traces and request-id logs: what each records, and that off adds nothing."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from prow import App, ConfigurationError, HTTPError
from prow.db import Database, DBSession
from prow.logging import configure_logging
from prow.observability import Observability, request_id
from prow.testing import TestClient


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics answer: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def make_app(observability: Observability, database: Database | None = None) -> App:
    app = App(extensions=[observability] + ([database] if database else []))

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, object]:
        logging.getLogger("tests.items").warning("reading item %s", item_id)
        return {"id": item_id, "request_id": request_id()}

    @app.get("/broken")
    async def broken() -> str:
        raise HTTPError(503, "down for now")

    return app


def test_metrics_by_route_template_status_and_method(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'metrics.sqlite3'}")
    app = make_app(Observability(metrics=True), database)

    @app.get("/count")
    async def count(session: DBSession) -> int:
        return int((await session.execute(sa.text("SELECT 1"))).scalar_one())

    with TestClient(app) as client:
        for item_id in (1, 2, 3):
            client.get(f"/items/{item_id}")
        client.get("/broken")
        client.get("/nowhere")
        client.get("/count")
        answer = client.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=")
    found = samples(answer.text)
    item = (("method", "GET"), ("route", "/items/{item_id}"))
    assert found[("prow_http_requests_total", (*item, ("status", "200")))] == 3
    assert found[("prow_http_requests_total", (*item[:1], ("route", "/broken"), ("status", "503")))]
    assert found[
        ("prow_http_requests_total", (*item[:1], ("route", "unmatched"), ("status", "404")))
    ]
    assert found[("prow_http_request_duration_seconds_count", item)] == 3
    assert found[("prow_http_requests_in_progress", (("method", "GET"),))] == 1  # /metrics itself
    assert ("prow_db_pool_connections", (("state", "checked_out"),)) in found
    assert "/metrics" not in app.openapi()["paths"]


def test_two_apps_keep_their_own_counts() -> None:
    one, two = make_app(Observability(metrics=True)), make_app(Observability(metrics=True))
    with TestClient(one) as first, TestClient(two) as second:
        first.get("/items/1")
        first.get("/items/1")
        second.get("/items/1")
        key = (
            "prow_http_requests_total",
            (("method", "GET"), ("route", "/items/{item_id}"), ("status", "200")),
        )
        assert samples(first.get("/metrics").text)[key] == 2
        assert samples(second.get("/metrics").text)[key] == 1


def test_multiprocess_mode_adds_up_every_worker(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from prow import App
        from prow.observability import Observability
        from prow.testing import TestClient

        def worker():
            app = App(extensions=[Observability(metrics=True)])

            @app.get("/x")
            async def x() -> str:
                return "x"

            return app

        with TestClient(worker()) as one, TestClient(worker()) as two:
            one.get("/x"); two.get("/x"); two.get("/x")
            print(one.get("/metrics").text)
        """
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    key = ("prow_http_requests_total", (("method", "GET"), ("route", "/x"), ("status", "200")))
    assert samples(done.stdout)[key] == 3


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_spans_are_named_by_route_template_with_sql_children(
    spans: tuple[TracerProvider, InMemorySpanExporter], tmp_path: Path
) -> None:
    provider, exporter = spans
    database = Database(f"sqlite:///{tmp_path / 'traces.sqlite3'}")
    app = make_app(Observability(tracing=True, tracer_provider=provider), database)

    @app.get("/rows/{n}")
    async def rows(n: int, session: DBSession) -> int:
        return int((await session.execute(sa.text("SELECT :n"), {"n": n})).scalar_one())

    trace_id = "0af7651916cd43dd8448eb211c80319c"
    with TestClient(app) as client:
        assert client.get("/rows/7").json() == 7
        client.get("/items/1", headers={"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})
        client.get("/broken")
    finished = {span.name: span for span in exporter.get_finished_spans()}
    request = finished["GET /rows/{n}"]
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/rows/{n}"
    assert request.attributes["http.response.status_code"] == 200
    sql = finished["SELECT sqlite"]
    assert sql.parent is not None and sql.parent.span_id == request.context.span_id
    assert sql.attributes is not None and sql.attributes["db.query.text"] == "SELECT ?"
    continued = finished["GET /items/{item_id}"]
    assert format(continued.context.trace_id, "032x") == trace_id  # the caller's trace
    assert finished["GET /broken"].status.status_code.name == "ERROR"


def test_request_ids_are_accepted_checked_returned_and_logged() -> None:
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    try:
        app = make_app(Observability(logs=True))
        with TestClient(app) as client:
            given = client.get("/items/1", headers={"X-Request-ID": "req-42"})
            forged = client.get("/items/2", headers={"X-Request-ID": "bad id\r\nX-Evil: 1"})
    finally:
        logging.getLogger().removeHandler(handler)
    assert given.headers["x-request-id"] == "req-42"
    assert given.json()["request_id"] == "req-42"
    fresh = forged.headers["x-request-id"]
    assert fresh != "bad id\r\nX-Evil: 1" and len(fresh) == 32
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    mine = [r for r in records if r["logger"] == "tests.items"]
    assert [r["request_id"] for r in mine] == ["req-42", fresh]
    access = [r for r in records if r["logger"] == "prow.access"]
    assert [r["request_id"] for r in access] == ["req-42", fresh]


def test_off_adds_no_middleware_and_no_wrapper() -> None:
    app = make_app(Observability())
    app.build()
    assert app.user_middleware == []
    assert all("handle" not in vars(route) for route in app.routes)


def test_configuration_mistakes_are_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Observability(metrics=True, metrics_url="metrics")
    assert caught.value.code == "prow.E320"
    with pytest.raises(ConfigurationError) as caught:
        Observability(ready_timeout=0)
    assert caught.value.code == "prow.E321"
