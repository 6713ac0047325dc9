"""What one request costs the shared services, and requests/s with 1, 2 and 4 workers.

``python bench/scaling.py costs`` serves ``bench/apps/scaling_app.py`` with one worker and,
for each endpoint, drives it with ``wrk`` for a few seconds while counting: the worker's CPU
time per request (from ``/proc``), the Redis commands per request (``INFO commandstats``) and
Redis's own CPU time per request (``INFO cpu``), and the PostgreSQL transactions per request
(``pg_stat_database``). ``python bench/scaling.py workers`` measures requests/s of
``prow serve --workers N`` for N = 1, 2, 4; ``round-trips`` the time of one Redis and one
PostgreSQL round trip. Both print Markdown tables, with the machine's
load average before and after, for ``docs/scaling.md``.

Redis and PostgreSQL are the test servers (``SCALING_REDIS_URL``, default
``redis://127.0.0.1:6379/6``; ``SCALING_DATABASE_URL``, default the ``test_channels``
database); wall-clock figures on a shared machine are noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_APPS = _ROOT / "bench" / "apps"
_PROW = Path(sys.executable).with_name("prow")
_RPS = re.compile(r"Requests/sec:\s*([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in")
_TICK = os.sysconf("SC_CLK_TCK")

REDIS_URL = os.environ.get("SCALING_REDIS_URL", "redis://127.0.0.1:6379/6")
DATABASE_URL = os.environ.get(
    "SCALING_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test_channels"
)

#: endpoint -> (method, path, what it touches)
ENDPOINTS = {
    "plaintext": ("GET", "/plaintext", "nothing shared"),
    "session": ("GET", "/session", "a Redis session (cookie sent)"),
    "ratelimit": ("GET", "/limited", "a Redis rate limit"),
    "publish": ("POST", "/publish", "a channels publish (Redis)"),
    "db": ("GET", "/db", "one PostgreSQL query (pooled connection)"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(workers: int) -> Iterator[tuple[int, int]]:
    """``prow serve --workers N`` of the scaling app: yields (port, the server's pid)."""
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(_ROOT),
        "SCALING_REDIS_URL": REDIS_URL,
        "SCALING_DATABASE_URL": DATABASE_URL,
        "PROW_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [str(_PROW), "serve", "--app", "scaling_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers)],
        cwd=_APPS, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/plaintext", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the scaling app did not start") from None
                time.sleep(0.2)
        time.sleep(1.0 if workers > 1 else 0.2)  # every worker up, not only the first
        yield port, process.pid
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def session_cpu(session_id: int) -> float:
    """CPU seconds (user + system) of every process in the session."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session_id:
                total += int(fields[11]) + int(fields[12])
    return total / _TICK


def redis_counts() -> tuple[int, float]:
    """(commands processed, CPU seconds) of the Redis server so far."""
    import redis

    info = redis.Redis.from_url(REDIS_URL).info("all")
    calls = sum(v["calls"] for k, v in info.items() if k.startswith("cmdstat_"))
    return calls, float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def pg_transactions() -> int:
    import psycopg

    url = DATABASE_URL.replace("+asyncpg", "")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def wrk(
    port: int, endpoint: str, seconds: int, connections: int, threads: int
) -> tuple[float, int]:
    method, path, _ = ENDPOINTS[endpoint]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        if endpoint == "session":
            cookie = _login(port)
            script.write(f'wrk.headers["Cookie"] = "{cookie}"\n')
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", script.name,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True, timeout=seconds + 30,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    rps, total = _RPS.search(out), _TOTAL.search(out)
    if rps is None or total is None or "Non-2xx" in out:
        raise RuntimeError(f"wrk failed or got errors:\n{out}")
    return float(rps.group(1)), int(total.group(1))


def _login(port: int) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/login", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.headers["set-cookie"].split(";")[0])


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def costs(seconds: int) -> None:
    print(f"load average before: {load()}")
    print(
        "| endpoint | touches | req/s (1 worker) | worker CPU µs/request | Redis commands/request "
        "| Redis CPU µs/request | PostgreSQL transactions/request |"
    )
    print("|---|---|---|---|---|---|---|")
    with serve(1) as (port, pid):
        for endpoint, (_method, _path, touches) in ENDPOINTS.items():
            wrk(port, endpoint, 1, 8, 1)  # warm up: pools filled, code paths hot
            cpu0, (calls0, rcpu0), tx0 = session_cpu(pid), redis_counts(), pg_transactions()
            rps, total = wrk(port, endpoint, seconds, 16, 1)
            cpu1, (calls1, rcpu1), tx1 = session_cpu(pid), redis_counts(), pg_transactions()
            print(
                f"| {endpoint} | {touches} | {rps:,.0f} | {(cpu1 - cpu0) / total * 1e6:.0f} "
                f"| {(calls1 - calls0 - 1) / total:.2f} | {(rcpu1 - rcpu0) / total * 1e6:.1f} "
                f"| {(tx1 - tx0 - 1) / total:.2f} |"
            )
    print(f"load average after: {load()}")


def workers(seconds: int, endpoints: list[str], counts: list[int]) -> None:
    print(f"load average before: {load()}")
    print("| endpoint | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in counts) + " |")
    print("|---|" + "---|" * len(counts))
    for endpoint in endpoints:
        figures = []
        for count in counts:
            with serve(count) as (port, _pid):
                wrk(port, endpoint, 1, 16, 2)
                rps, _total = wrk(port, endpoint, seconds, 64, 2)
            figures.append(f"{rps:,.0f}")
        print(f"| {endpoint} | " + " | ".join(figures) + " |")
    print(f"load average after: {load()}")


def round_trips(count: int = 2000) -> None:
    """Median and p99 time of one round trip to Redis (PING) and PostgreSQL (SELECT 1)."""
    import statistics

    import psycopg
    import redis

    def timed(call: object) -> str:
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            call()  # type: ignore[operator]
            samples.append((time.perf_counter() - started) * 1e6)
        samples.sort()
        p99 = samples[int(len(samples) * 0.99)]
        return f"{statistics.median(samples):.0f} µs (p99 {p99:.0f} µs)"

    print(f"load average before: {load()}")
    client = redis.Redis.from_url(REDIS_URL)
    print(f"| Redis PING | {timed(client.ping)} |")
    with psycopg.connect(DATABASE_URL.replace("+asyncpg", "")) as conn:
        print(f"| PostgreSQL SELECT 1 | {timed(lambda: conn.execute('SELECT 1').fetchone())} |")
    print(f"load average after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("measure", choices=["costs", "workers", "round-trips"])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--endpoints", default="plaintext,session,db")
    parser.add_argument("--workers", default="1,2,4")
    args = parser.parse_args()
    if args.measure == "costs":
        costs(args.seconds)
    elif args.measure == "round-trips":
        round_trips()
    else:
        counts = [int(n) for n in args.workers.split(",")]
        workers(args.seconds, args.endpoints.split(","), counts)


if __name__ == "__main__":
    main()
