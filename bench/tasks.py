"""What prow.tasks costs: ``enqueue()`` in a request, and one worker's throughput.

``python bench/tasks.py enqueue [--db sqlite|postgresql] [--n 300]`` serves three routes that
each insert one row through ``DBSession``: ``/plain`` only that, ``/enqueue`` that and one
``enqueue()`` (the task row is flushed with the request's own insert), ``/roundtrip`` that and
one extra ``SELECT 1`` (one database round trip). It prints the time per request of each
(best of several rounds, requests driven in-process through ASGI, no HTTP), so the cost of
``enqueue()`` reads against the cost of one round trip.

``python bench/tasks.py enqueue --callgrind`` prints instructions per request instead
(``(I(2N) - I(N)) / N`` under callgrind: deterministic on a busy machine; a round trip's server
side is not counted there, only prow's and the driver's).

``python bench/tasks.py worker [--db ...] [--n 2000] [--concurrency 8]`` queues ``n`` no-op
tasks, then times one in-process ``Worker`` running them all (tasks/s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import String, text
from sqlalchemy.orm import Mapped, mapped_column

from prow import App
from prow.db import Database, DBSession, Model
from prow.tasks import Tasks, Worker, task

URLS = {
    "sqlite": "sqlite+aiosqlite:///./bench-tasks.sqlite3",
    "postgresql": os.environ.get(
        "PROW_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/prow_bench"
    ),
}
ROUTES = ("/plain", "/enqueue", "/roundtrip")


class Signup(Model):
    __tablename__ = "bench_tasks_signup"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(100))


@task(name="bench.welcome")
async def welcome(signup_id: int) -> None:
    pass


def make_app(url: str) -> tuple[App, Tasks]:
    tasks = Tasks()
    app = App(extensions=[Database(url), tasks])

    @app.post("/plain")
    async def plain(db: DBSession) -> None:
        db.add(Signup(email="a@example.com"))

    @app.post("/enqueue")
    async def enqueue(db: DBSession) -> None:
        db.add(Signup(email="a@example.com"))
        await welcome.enqueue(1)

    @app.post("/roundtrip")
    async def roundtrip(db: DBSession) -> None:
        db.add(Signup(email="a@example.com"))
        await db.execute(text("SELECT 1"))

    return app, tasks


async def reset(app: App, tasks: Tasks) -> None:
    db = app.extension(Database)
    await db.drop_all(Signup, *tasks.tables())
    await db.create_all(Signup, *tasks.tables())


async def call(app: App, path: str) -> None:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"content-length", b"0")],
        "scheme": "http",
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "http_version": "1.1",
        "state": {},
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    if status[0] >= 400:
        raise RuntimeError(f"{path} answered {status[0]}")


async def time_routes(url: str, n: int, rounds: int) -> dict[str, float]:
    app, tasks = make_app(url)
    best = dict.fromkeys(ROUTES, float("inf"))
    async with app.running():
        await reset(app, tasks)
        for path in ROUTES:  # warm up every path once
            await call(app, path)
        for _ in range(rounds):
            for path in ROUTES:
                started = time.perf_counter()
                for _ in range(n):
                    await call(app, path)
                best[path] = min(best[path], (time.perf_counter() - started) / n)
    return best


async def drive(url: str, path: str, n: int) -> None:
    app, tasks = make_app(url)
    async with app.running():
        await reset(app, tasks)
        for _ in range(n):
            await call(app, path)


def instructions(db: str, path: str, n: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "_drive",
        "--db",
        db,
        "--path",
        path,
        "--n",
        str(n),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    assert found is not None, done.stderr[-2000:]
    return int(found.group(1))


async def worker_throughput(url: str, n: int, concurrency: int) -> float:
    app, tasks = make_app(url)
    async with app.running():
        await reset(app, tasks)
        for number in range(n):
            await welcome.enqueue(number)
        worker = Worker(tasks, concurrency=concurrency, poll=0.02)
        started = time.perf_counter()
        running = asyncio.ensure_future(worker.run())
        while worker.processed < n:  # noqa: ASYNC110 - polls the worker's counter
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        worker.stop()
        await running
    return n / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["enqueue", "worker", "_drive"])
    parser.add_argument("--db", choices=list(URLS), default="sqlite")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--path", default="/plain")
    args = parser.parse_args()
    url = URLS[args.db]
    if args.what == "_drive":
        asyncio.run(drive(url, args.path, args.n))
        return 0
    if args.what == "worker":
        n = args.n or 2000
        rate = asyncio.run(worker_throughput(url, n, args.concurrency))
        print(f"{args.db}: one worker (concurrency {args.concurrency}): {rate:,.0f} tasks/s")
        return 0
    n = args.n or 300
    if args.callgrind:
        counts = {
            p: (instructions(args.db, p, 2 * n) - instructions(args.db, p, n)) / n for p in ROUTES
        }
        for path in ROUTES:
            extra = counts[path] - counts["/plain"]
            print(f"{args.db} {path:11} {counts[path]:>12,.0f} instructions  (+{extra:,.0f})")
        return 0
    best = asyncio.run(time_routes(url, n, args.rounds))
    for path in ROUTES:
        extra = (best[path] - best["/plain"]) * 1e6
        print(f"{args.db} {path:11} {best[path] * 1e6:8.0f} us/request  (+{extra:.0f} us)")
    return 0


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.path[0] = str(Path(__file__).resolve().parent.parent)
    raise SystemExit(main())
