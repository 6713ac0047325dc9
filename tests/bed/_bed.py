"""The multi-worker test bed: N real ``prow serve`` processes sharing PostgreSQL and Redis.

Each worker is its own process on its own port, so a test can send one request to worker A
and the next to worker B, as a load balancer would. The PostgreSQL and Redis servers are
private (``faults._private``): tests may stop them, and the shared ones are never touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from faults._private import START_TIMEOUT, PrivatePostgres, PrivateRedis, free_port

HERE = Path(__file__).resolve().parent
PROW = Path(sys.executable).with_name("prow")


@dataclass
class Worker:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL the worker's process group: no graceful anything, as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(START_TIMEOUT)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Bed:
    postgres: PrivatePostgres
    redis: PrivateRedis
    folder: Path
    workers: list[Worker] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BED_DATABASE_URL": self.postgres.url,
            "BED_REDIS_URL": self.redis.url,
            "PROW_SECRET_KEY": SECRET_KEY,
            "PROW_LOG_LEVEL": "WARNING",
        }

    def start(self, count: int, *, app: str = "bed_app:app", workers: int = 1) -> list[Worker]:
        """Start ``count`` servers (each ``prow serve --workers workers``) and wait for them."""
        started = []
        for _ in range(count):
            port = free_port()
            log = self.folder / f"worker-{port}.log"
            process = subprocess.Popen(
                [str(PROW), "serve", "--app", app, "--host", "127.0.0.1", "--port", str(port),
                 "--workers", str(workers), "--graceful-timeout", "2"],
                cwd=HERE,
                env=self.env(),
                stdout=log.open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
            started.append(Worker(port, process, log))
        for worker in started:
            wait_until_serving(worker)
        self.workers.extend(started)
        return started

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()


SECRET_KEY = secrets.token_urlsafe(48)


def wait_until_serving(worker: Worker) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited: {worker.log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{worker.url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"worker did not serve within {START_TIMEOUT}s: {worker.log.read_text()}")


def create_tables(postgres: PrivatePostgres) -> None:
    """The bed's table, made once before the workers start (never raced by N workers)."""
    subprocess.run(
        [str(postgres.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(postgres.port),
         "-U", "postgres", "-q", "-c",
         "CREATE TABLE bed_writes (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE)"],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


@contextlib.contextmanager
def bed(folder: Path) -> Iterator[Bed]:
    from faults._private import private_postgres, private_redis

    with private_postgres(max_connections=60) as postgres, private_redis() as redis:
        create_tables(postgres)
        running = Bed(postgres, redis, folder)
        try:
            yield running
        finally:
            running.close()
