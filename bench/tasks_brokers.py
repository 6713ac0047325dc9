"""Throughput of one prow worker on the taskiq broker backends, and the cost of an enqueue.

``python bench/tasks_brokers.py [--kinds redis,amqp,nats] [--n 2000] [--concurrency 1,8]``
``python bench/tasks_brokers.py --callgrind [--kinds redis] [--n 200]``

For each broker: ``n`` no-op tasks are sent (``enqueue()`` outside a request: straight to the
broker), then one ``Worker`` runs them all; it prints the enqueue cost (microseconds per task)
and the worker's tasks per second. Wall-clock figures on a shared machine: run it when the
machine is quiet and compare runs of one session only. The broker servers are the local ones
(``PROW_TEST_REDIS_URL``, ``PROW_TEST_AMQP_URL``, ``PROW_TEST_NATS_URL``); every run uses
queues of its own and deletes them afterwards.

``--callgrind`` counts instructions instead, which a loaded machine does not disturb: a driver
process enqueues ``n`` tasks (then runs them with one worker, concurrency 1) under callgrind,
for ``n`` and ``2n``; the difference over ``n`` is the cost of one enqueue and of one task run
by the worker, in this process only (the broker server's own work is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from uuid import uuid4

if __package__ in (None, ""):
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from prow import App
from prow.db import Database
from prow.tasks import Tasks, Worker, task

URLS = {
    "redis": os.environ.get("PROW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    + "?prefix=prow-bench:{name}",
    "amqp": os.environ.get("PROW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    + "?prefix=prow-bench.{name}",
    "nats": os.environ.get("PROW_TEST_NATS_URL", "nats://127.0.0.1:4222")
    + "?stream=prow-bench-{name}",
}


@task(name="bench.noop")
async def noop(n: int) -> None:
    return None


async def drive(kind: str, n: int, phase: str) -> None:
    """Enqueue ``n`` tasks; with ``phase == "work"``, run them too (one worker, one at a time)."""
    folder = tempfile.mkdtemp(prefix="prow-bench-tasks-")
    tasks = Tasks(URLS[kind].format(name=uuid4().hex[:10]))
    app = App(extensions=[Database(f"sqlite+aiosqlite:///{folder}/bench.sqlite3"), tasks])
    async with app.running():
        await app.extension(Database).create_all(*tasks.tables())
        try:
            for number in range(n):
                await noop.enqueue(number)
            if phase == "work":
                worker = Worker(tasks, ["default"], concurrency=1, poll=0.2, schedule=False)
                running = asyncio.ensure_future(worker.run())
                while worker.processed < n:  # noqa: ASYNC110 - polls a plain counter
                    await asyncio.sleep(0.01)
                worker.stop()
                await running
        finally:
            await tasks.backend.drop()  # type: ignore[attr-defined]


def instructions(kind: str, n: int, phase: str) -> int:
    """Instructions of one driver process (callgrind's total)."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--drive",
        phase,
        "--kinds",
        kind,
        "--n",
        str(n),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return int(re.search(r"Collected\s*:\s*(\d+)", done.stderr).group(1))  # type: ignore[union-attr]


def callgrind(kinds: list[str], n: int) -> None:
    print(f"{'broker':8} {'enqueue instr/task':>19} {'worker instr/task':>18}")
    for kind in kinds:
        enqueue = [instructions(kind, count, "enqueue") for count in (n, 2 * n)]
        both = [instructions(kind, count, "work") for count in (n, 2 * n)]
        per_enqueue = (enqueue[1] - enqueue[0]) / n
        per_task = (both[1] - both[0]) / n - per_enqueue
        print(f"{kind:8} {per_enqueue:>19,.0f} {per_task:>18,.0f}")


async def measure(kind: str, n: int, concurrency: int) -> tuple[float, float]:
    """(microseconds per enqueue, tasks per second of one worker) on ``kind``."""
    folder = tempfile.mkdtemp(prefix="prow-bench-tasks-")
    tasks = Tasks(URLS[kind].format(name=uuid4().hex[:10]))
    app = App(extensions=[Database(f"sqlite+aiosqlite:///{folder}/bench.sqlite3"), tasks])
    async with app.running():
        await app.extension(Database).create_all(*tasks.tables())
        try:
            started = time.perf_counter()
            for number in range(n):
                await noop.enqueue(number)
            enqueue = (time.perf_counter() - started) / n * 1e6
            worker = Worker(tasks, ["default"], concurrency=concurrency, poll=0.2, schedule=False)
            started = time.perf_counter()
            running = asyncio.ensure_future(worker.run())
            while worker.processed < n:  # noqa: ASYNC110 - polls a plain counter
                await asyncio.sleep(0.01)
            rate = n / (time.perf_counter() - started)
            worker.stop()
            await running
        finally:
            await tasks.backend.drop()  # type: ignore[attr-defined]
    return enqueue, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default="redis,amqp,nats")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--drive", choices=["enqueue", "work"], help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.drive:
        asyncio.run(drive(options.kinds, options.n, options.drive))
        return
    if options.callgrind:
        callgrind(options.kinds.split(","), options.n)
        return
    print(f"{'broker':8} {'concurrency':>11} {'enqueue µs/task':>16} {'worker tasks/s':>15}")
    for kind in options.kinds.split(","):
        for concurrency in [int(c) for c in options.concurrency.split(",")]:
            runs = [
                asyncio.run(measure(kind, options.n, concurrency)) for _ in range(options.repeat)
            ]
            enqueue = statistics.median(r[0] for r in runs)
            rate = statistics.median(r[1] for r in runs)
            print(f"{kind:8} {concurrency:>11} {enqueue:>16.0f} {rate:>15.0f}")


if __name__ == "__main__":
    main()
