"""HTTP requests/s and p99 latency with ``wrk`` against each app under granian and uvicorn.

One worker per server, bound to 127.0.0.1 on a free port. Apps are interleaved: each round starts
every app in turn (the order rotating between rounds) and runs every endpoint against it, so a
busy spell on a shared machine hits all apps alike; the report shows each app as a ratio to the
bare ASGI app measured in the same round. After its round, the worker's resident memory is read.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._cases import CASES, Case
from bench.apps import APPS

__all__ = ["measure"]

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


def _wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = f"http://127.0.0.1:{port}/json"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as reply:
            if reply.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not answer within {timeout} s")


@contextlib.contextmanager
def _serving(command: list[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, cwd=_ROOT, stdout=subprocess.DEVNULL)
    try:
        _wait_ready(port)
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
            rows[endpoint] = _wrk(port, CASES[endpoint], duration, connections=32)
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
