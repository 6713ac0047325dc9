"""Private PostgreSQL and Redis servers for fault injection, and the app served by uvicorn.

Never the shared services: each server here runs from its own temporary directory on a free
loopback port, so stopping or freezing it disturbs nobody else's tests. ``PrivatePostgres``
runs ``initdb`` and ``postgres`` as the ``postgres`` user when the tests run as root
(initdb refuses root). ``freeze()`` stops the server and every process it started (SIGSTOP),
as a hung machine would; the server first, so that it cannot start new ones meanwhile.

When the binaries are missing the tests skip with the reason, or fail under
``PROW_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Every wait on a server is bounded by this (seconds): a broken machine fails, never hangs.
START_TIMEOUT = 30.0


def unavailable(reason: str) -> None:
    """Skip, or fail when ``PROW_REQUIRE_SERVICES=1`` (CI must run these tests)."""
    if os.environ.get("PROW_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and PROW_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {START_TIMEOUT}s")


class _Server:
    """A server process in its own process group: start, stop, freeze, thaw, clean up."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.frozen: list[int] = []

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _popen_options(self) -> dict[str, Any]:
        return {}

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self._spawn([])
        self._wait_until_ready()

    def _spawn(self, extra: list[str]) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.process = subprocess.Popen(
            [*self._command(), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # away from the terminal's signals (Ctrl-C)
            **self._popen_options(),
        )

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        _wait_for_port(self.port, self.process, self.name)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Shut the server down with ``sig`` and wait until it is gone."""
        assert self.process is not None
        self.thaw()
        self.process.send_signal(sig)
        try:
            self.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.close()

    def freeze(self) -> None:
        """SIGSTOP the server and its children: connections stay open, nothing answers."""
        assert self.process is not None
        # Not the process group: PostgreSQL's backends each call setsid().
        self.process.send_signal(signal.SIGSTOP)
        self.frozen = [self.process.pid, *_children(self.process.pid)]
        for pid in self.frozen[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in reversed(self.frozen):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.frozen = []

    def close(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.thaw()
        children = _children(self.process.pid)
        self.process.send_signal(signal.SIGQUIT)  # PostgreSQL: immediate shutdown
        try:
            self.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            for pid in [self.process.pid, *children]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(START_TIMEOUT)


def _children(parent: int) -> list[int]:
    """The processes whose parent is ``parent`` (read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (command) state ppid ...": the command may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


class PrivateRedis(_Server):
    """``redis-server`` with no persistence on a free port."""

    name = "redis-server"

    def __init__(self, binary: str) -> None:
        super().__init__()
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip


def find_postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb and postgres, if any."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        folder = Path(initdb).parent
        version = folder.parent.name
        if (folder / "postgres").exists() and version.isdigit():
            found.append((int(version), folder))
    if found:
        return max(found)[1]
    initdb_path = shutil.which("initdb")
    return Path(initdb_path).parent if initdb_path and shutil.which("postgres") else None


class PrivatePostgres(_Server):
    """A throw-away PostgreSQL cluster: ``initdb`` once, then start/stop/freeze at will."""

    name = "postgres"

    def __init__(self, bin_dir: Path, *, max_connections: int = 20) -> None:
        super().__init__()
        self.bin_dir = bin_dir
        self.max_connections = max_connections
        self.folder = Path(tempfile.mkdtemp(prefix="prow-faults-pg-"))
        self.data = self.folder / "data"
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no postgres user to run initdb as")
            self._user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.folder, account.pw_uid, account.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D", str(self.data),
                "-U", "postgres",
                "--auth=trust",
                "-E", "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **self._user,
        )  # fmt: skip

    def _popen_options(self) -> dict[str, Any]:
        return self._user

    def start_refusing(self, extra: list[str]) -> None:
        """Start with ``extra`` options and wait only for the port (it may refuse logins)."""
        self._spawn(extra)
        assert self.process is not None
        _wait_for_port(self.port, self.process, self.name)

    def _command(self) -> list[str]:
        return [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.folder}",
            "-c", f"max_connections={self.max_connections}",
            "-c", "superuser_reserved_connections=0",
            "-c", "fsync=off",  # durability against power loss is not what is tested
            "-c", "shared_buffers=16MB",
        ]  # fmt: skip

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.process.returncode}")
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
                timeout=10,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres was not ready within {START_TIMEOUT}s")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)


class ServedApp:
    """An ASGI app served by uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="faults-uvicorn")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(START_TIMEOUT)


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed")
    assert binary is not None
    server = PrivateRedis(binary)
    try:
        server.start()
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def private_postgres(max_connections: int = 20) -> Iterator[PrivatePostgres]:
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        unavailable("the PostgreSQL server binaries (initdb, postgres) are not installed")
    assert bin_dir is not None
    server = PrivatePostgres(bin_dir, max_connections=max_connections)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()
