"""HTTP requests/s and p99 latency with ``wrk`` against each app under granian and uvicorn.

One worker per server, bound to 127.0.0.1 on a free port. Apps are interleaved: each round starts
every app in turn (the order rotating between rounds) and runs every endpoint against it, so a
busy spell on a shared machine hits all apps alike; the report shows each app as a ratio to the
bare ASGI app measured in the same round. After its round, the worker's resident memory is read.

``measure_db`` does the same on PostgreSQL for the database endpoints (``/db``, ``/db/orm``,
TechEmpower's types, the RealWorld endpoints), each app on those it serves, granian only, and
keeps the median of its rounds. Before a run is counted, the endpoint's answer is checked (as in
the other measures) and a one-second ``wrk`` run warms the app: its pool opened to the
concurrency, the cache of ``/cached-queries`` filled.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import _db
from bench._cases import ALL_CASES, RW_CASES, TE_CASES, TE_ENDPOINTS, Answer, Case
from bench.apps import APPS

__all__ = ["HTTP_DB_ENDPOINTS", "measure", "measure_db", "serves"]

#: What ``measure_db`` asks of each app that serves it (``serves``), on PostgreSQL.
HTTP_DB_ENDPOINTS = ("db", "db_orm", *TE_ENDPOINTS, *RW_CASES)
CONNECTIONS = 32  # wrk's concurrent connections, in every measure

_ROOT = Path(__file__).resolve().parent.parent
_RPS = re.compile(r"Requests/sec:\s*([\d.]+)")
_P99 = re.compile(r"99%\s+([\d.]+)(us|ms|s)\b")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command(server: str, app: str, port: int) -> list[str] | None:
    spec = APPS[app]
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", spec.interface, "--workers", "1",
            "--host", "127.0.0.1", "--port", str(port), "--no-ws", "--log-level", "warning",
            spec.target,
        ]  # fmt: skip
    if spec.interface != "asgi":
        return None  # uvicorn serves WSGI only through a deprecated shim: not a fair figure
    return [
        sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "warning", "--no-access-log", spec.target,
    ]  # fmt: skip


def serves(app: str, endpoint: str) -> bool:
    """Whether ``app`` serves ``endpoint`` (the RealWorld endpoints: apps marked ``realworld``)."""
    spec = APPS[app]
    if endpoint in RW_CASES:
        return spec.realworld
    if spec.realworld:
        return False  # prow's Conduit serves only the RealWorld endpoints
    return spec.te or endpoint not in TE_CASES


def _wait_ready(port: int, path: str, timeout: float = 20.0) -> None:
    """Wait until the server answers ``path`` (any status: it is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # an answer, if not a 200 (a route that wants a token)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer within {timeout} s")


@contextlib.contextmanager
def _serving(
    command: list[str], port: int, path: str = "/json", env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, cwd=_ROOT, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    try:
        _wait_ready(port, path)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _lua(case: Case) -> str:
    lines = [f'wrk.method = "{case.method}"']
    for name, value in case.headers:
        lines.append(f'wrk.headers["{name.decode()}"] = "{value.decode()}"')
    if case.body:
        lines.append(f"wrk.body = [[{case.body.decode()}]]")
    return "\n".join(lines) + "\n"


def _check(app: str, port: int, case: Case) -> None:
    """Send ``case`` once over HTTP and check the answer as the in-process measures do."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        target = case.path + (f"?{case.query.decode()}" if case.query else "")
        headers = {name.decode(): value.decode() for name, value in case.headers}
        client.request(case.method, target, body=case.body or None, headers=headers)
        reply = client.getresponse()
        answer = Answer(reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read())
    finally:
        client.close()
    case.check(app, answer)


def _wrk(port: int, case: Case, duration: float, connections: int) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}{case.path}" + (f"?{case.query.decode()}" if case.query else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(case))
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", script.name, url,
    ]  # fmt: skip
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error answers from {url}:\n{out}")
    rps, p99 = _RPS.search(out), _P99.search(out)
    if rps is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    return {"rps": float(rps.group(1)), "p99_ms": float(p99.group(1)) * _UNIT_MS[p99.group(2)]}


def _rss_mb(pid: int) -> float:
    """Largest resident set among ``pid`` and its children: the worker that served."""
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    best = 0
    for each in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    best = max(best, int(line.split()[1]))
    return best / 1024


def _one_app(server: str, app: str, endpoints: list[str], duration: float) -> dict[str, Any]:
    port = _free_port()
    command = _command(server, app, port)
    if command is None:
        return {}
    rows: dict[str, Any] = {}
    with _serving(command, port) as process:
        for endpoint in endpoints:
            rows[endpoint] = _wrk(port, ALL_CASES[endpoint], duration, CONNECTIONS)
            print(f"  {server:8} {app:10} {endpoint:10} {rows[endpoint]['rps']:>10,.0f} req/s")
        rows["rss_mb"] = _rss_mb(process.pid)
    return rows


def measure(
    apps: list[str], endpoints: list[str], duration: float = 5.0, rounds: int = 1
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{server: {app: {endpoint: {rps, p99_ms}, "rss_mb": MB}}}``, best round per figure."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for server in ("granian", "uvicorn"):
        table: dict[str, dict[str, Any]] = {app: {} for app in apps}
        for round_ in range(rounds):
            order = apps[round_ % len(apps) :] + apps[: round_ % len(apps)]
            for app in order:
                for key, value in _one_app(server, app, endpoints, duration).items():
                    old = table[app].get(key)
                    if key == "rss_mb" or old is None or value["rps"] > old["rps"]:
                        table[app][key] = value
        results[server] = {app: row for app, row in table.items() if row}
    return results


def _one_db_app(app: str, endpoints: list[str], duration: float) -> dict[str, dict[str, float]]:
    """One granian worker of ``app`` on PostgreSQL: each endpoint checked, warmed, measured."""
    port = _free_port()
    command = _command("granian", app, port)
    assert command is not None  # granian serves ASGI and WSGI alike
    if APPS[app].interface == "wsgi":
        # granian may run up to 512 WSGI threads, and Django keeps a connection per thread:
        # past PostgreSQL's max_connections (100) requests fail. One thread per wrk connection.
        command[-1:-1] = ["--blocking-threads", str(CONNECTIONS)]
    env = {_db.ENV: "postgresql"}
    rows: dict[str, dict[str, float]] = {}
    with _serving(command, port, ALL_CASES[endpoints[0]].path, env):
        for endpoint in endpoints:
            case = ALL_CASES[endpoint]
            _check(app, port, case)
            _wrk(port, case, 1.0, CONNECTIONS)  # warm-up, not counted
            rows[endpoint] = _wrk(port, case, duration, CONNECTIONS)
            _check(app, port, case)
            print(f"  granian  {app:10} {endpoint:10} {rows[endpoint]['rps']:>10,.0f} req/s")
    return rows


def _prepare_postgresql(endpoints: list[str]) -> None:
    """Store the rows every app reads (and the RealWorld database when one is measured)."""
    _db.prepare("postgresql")
    if any(endpoint in RW_CASES for endpoint in endpoints):
        with contextlib.suppress(ImportError):  # else the Conduit app prepares its own
            from bench.apps import _realworld  # type: ignore[attr-defined, unused-ignore]

            _realworld.prepare("postgresql")


def measure_db(
    apps: list[str], endpoints: list[str], duration: float = 5.0, rounds: int = 3
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{"granian": {app: {endpoint: {rps, p99_ms, rps_rounds}}}}`` on PostgreSQL, medians.

    Each app is measured on the endpoints it ``serves``; apps interleaved, the order rotating
    between rounds, every run the same ``duration``.
    """
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    _prepare_postgresql(endpoints)
    plan = {app: [e for e in endpoints if serves(app, e)] for app in apps}
    plan = {app: served for app, served in plan.items() if served}
    runs: dict[str, dict[str, list[dict[str, float]]]] = {app: {} for app in plan}
    order = list(plan)
    for round_ in range(rounds):
        shift = round_ % len(order)
        for app in order[shift:] + order[:shift]:
            for endpoint, figures in _one_db_app(app, plan[app], duration).items():
                runs[app].setdefault(endpoint, []).append(figures)
    table: dict[str, dict[str, Any]] = {}
    for app, measured in runs.items():
        table[app] = {
            endpoint: {
                "rps": statistics.median(run["rps"] for run in each),
                "p99_ms": statistics.median(run["p99_ms"] for run in each),
                "rps_rounds": [run["rps"] for run in each],
            }
            for endpoint, each in measured.items()
        }
    return {"granian": table}
