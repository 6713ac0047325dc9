"""``prow run`` and ``prow serve``.

Option handling and every error path run in-process with the server's entry point replaced
by a recorder. The servers themselves run as real child processes on a free port: each must
answer a request, and exit promptly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from prow.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project folder as the current directory; imports made from it are forgotten."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in ("PROW_APP", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("app", "main"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield tmp_path
    for name, loaded in list(sys.modules.items()):
        if Path(getattr(loaded, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


APP = """
from prow import App

app = App(title="Served")

@app.get("/")
async def home() -> dict[str, str]:
    return {"version": "one"}
"""


def write_app(project: Path, source: str = APP) -> str:
    """Write a uniquely named module defining ``app`` and return its name."""
    name = f"proj_{uuid.uuid4().hex[:8]}"
    (project / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    error = result.output.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    for fragment in fragments:
        assert fragment in error


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    """Replace ``uvicorn.run`` by a recorder of its arguments."""
    import uvicorn

    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    monkeypatch.setenv("PROW_RUN_TARGET", "")  # what prow run sets is undone after the test
    return calls


# -- finding the import string -----------------------------------------------------------------


def served(calls: list[tuple[Any, dict[str, Any]]], *args: str) -> tuple[str, str]:
    """The import string and app folder ``prow run --no-reload *args`` hands to uvicorn."""
    result = invoke("run", "--no-reload", "--port", str(free_port()), *args)
    assert result.exit_code == 0, result.output
    app, options = calls[-1]
    return app, options["app_dir"]


def test_target_from_app_option(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    assert served(uvicorn_calls, "--app", f"{name}:app") == (f"{name}:app", str(project))
    assert served(uvicorn_calls, "--app", name)[0] == f"{name}:app"  # attribute `app` by default


def test_target_with_dotted_attribute(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(
        project, "from types import SimpleNamespace\n" + APP + "ns = SimpleNamespace(app=app)\n"
    )
    assert served(uvicorn_calls, "--app", f"{name}:ns.app")[0] == f"{name}:ns.app"


@pytest.mark.parametrize("file_name", ["app", "main"])
def test_target_from_default_file(project: Path, file_name: str, uvicorn_calls: list[Any]) -> None:
    (project / f"{file_name}.py").write_text(APP)
    assert served(uvicorn_calls)[0] == f"{file_name}:app"


# -- prow run ----------------------------------------------------------------------------------


def test_run_starts_uvicorn_with_reload(project: Path, uvicorn_calls: list[Any]) -> None:
    (project / "app.py").write_text(APP)
    port = free_port()
    result = invoke("run", "--port", str(port))
    assert result.exit_code == 0, result.output
    [(app, options)] = uvicorn_calls
    # An import string, so that the reloader can re-import it: prow's loader, which imports
    # app:app or, when an edit broke it, serves the error (see test_run_serves_and_reloads).
    assert options["factory"] is True and app.endswith(":load")
    assert os.environ["PROW_RUN_TARGET"] == "app:app"
    assert options["reload"] is True
    assert options["reload_dirs"] == [str(project)]
    assert (options["host"], options["port"], options["lifespan"]) == ("127.0.0.1", port, "on")
    assert options["server_header"] is False
    assert options["http"].keywords == {"head_timeout": 10, "max_head_size": 65536}
    lines = result.output.splitlines()
    assert lines[0] == f"prow: running app:app at http://127.0.0.1:{port}"
    assert lines[1] == f"  API docs: http://127.0.0.1:{port}/docs"
    assert lines[2].startswith(f"  reloading on changes in {project} (")
    assert "admin" not in result.output


def test_run_without_reload(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    result = invoke("run", "--app", name, "--no-reload", "--port", str(free_port()))
    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0][1]["reload"] is False
    assert "reloading" not in result.output


def test_run_shows_admin_and_custom_docs(project: Path, uvicorn_calls: list[Any]) -> None:
    source = APP.replace('App(title="Served")', 'App(docs_url="/api-docs")') + (
        "\n@app.get('/admin/')\nasync def admin() -> str:\n    return 'admin'\n"
    )
    port = free_port()
    result = invoke("run", "--app", write_app(project, source), "--port", str(port))
    assert f"  API docs: http://127.0.0.1:{port}/api-docs\n" in result.output
    assert f"  admin:    http://127.0.0.1:{port}/admin\n" in result.output


def test_run_admin_mount_and_no_docs(project: Path, uvicorn_calls: list[Any]) -> None:
    source = APP.replace('App(title="Served")', "App(docs_url=None)") + (
        "\nfrom prow.staticfiles import StaticFiles\n"
        "app.mount('/admin', StaticFiles(directory='.'))\n"
    )
    result = invoke("run", "--app", write_app(project, source), "--port", str(free_port()))
    assert "API docs" not in result.output
    assert "/admin\n" in result.output


def test_run_any_host_shows_localhost(project: Path, uvicorn_calls: list[Any]) -> None:
    port = free_port()
    result = invoke("run", "--app", write_app(project), "--host", "0.0.0.0", "--port", str(port))
    assert f"at http://localhost:{port}\n" in result.output
    assert uvicorn_calls[0][1]["host"] == "0.0.0.0"


# -- prow serve --------------------------------------------------------------------------------


def test_serve_runs_uvicorn_workers(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    port = free_port()
    result = invoke("serve", "--app", name, "--workers", "3", "--port", str(port))
    assert result.exit_code == 0, result.output
    [(app, options)] = uvicorn_calls
    assert app == f"{name}:app"
    assert options["workers"] == 3
    assert options["host"] == "0.0.0.0"
    assert options["timeout_graceful_shutdown"] == 30
    assert options["lifespan"] == "on"
    assert "reload" not in options
    assert options["server_header"] is False  # no "Server: uvicorn" to fingerprint
    assert options["http"].keywords == {"head_timeout": 10, "max_head_size": 65536}
    assert options["h11_max_incomplete_event_size"] == 65536
    # A new worker gets 30 s to start when SIGHUP replaces the workers (uvicorn's 5 s is
    # too short for an app that imports a lot on a busy machine).
    assert options["timeout_worker_healthcheck"] == 30
    assert result.output == (
        f"prow: serving {name}:app with uvicorn, 3 workers, on http://localhost:{port}\n"
    )


def test_serve_header_limits(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    port = str(free_port())
    args = ["--header-timeout", "2.5", "--max-header-size", "16384"]
    result = invoke("serve", "--app", name, "--port", port, *args)
    assert result.exit_code == 0, result.output
    options = uvicorn_calls[0][1]
    assert options["http"].keywords == {"head_timeout": 2.5, "max_head_size": 16384}
    assert options["h11_max_incomplete_event_size"] == 16384
    too_small = invoke("serve", "--app", name, "--port", port, "--max-header-size", "100")
    assert too_small.exit_code == 2 and "100 is not in the range x>=8192" in too_small.output


def test_serve_workers_from_environment(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    port = str(free_port())
    result = invoke("serve", "--app", name, "--port", port, env={"WEB_CONCURRENCY": "2"})
    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0][1]["workers"] == 2


def test_serve_graceful_timeout(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    invoke("serve", "--app", name, "--graceful-timeout", "5", "--port", str(free_port()))
    assert uvicorn_calls[0][1]["timeout_graceful_shutdown"] == 5


def test_serve_trusts_forwarded_headers_only_from_listed_proxies(
    project: Path, uvicorn_calls: list[Any]
) -> None:
    name = write_app(project)
    invoke("serve", "--app", name, "--port", str(free_port()))
    invoke("serve", "--app", name, "--port", str(free_port()), "--forwarded-allow-ips", "10.0.0.5")
    port = str(free_port())
    invoke("serve", "--app", name, "--port", port, env={"FORWARDED_ALLOW_IPS": "10.1.0.0/16"})
    assert [options["proxy_headers"] for _app, options in uvicorn_calls] == [True] * 3
    assert [options["forwarded_allow_ips"] for _app, options in uvicorn_calls] == [
        "127.0.0.1",
        "10.0.0.5",
        "10.1.0.0/16",
    ]


def test_serve_with_granian(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    granian = pytest.importorskip("granian")
    from granian.constants import Interfaces

    created: list[tuple[str, dict[str, Any]]] = []

    class Recorder:
        def __init__(self, target: str, **options: Any) -> None:
            created.append((target, options))

        def serve(self) -> None:
            created.append(("served", {}))

    monkeypatch.setattr(granian, "Granian", Recorder)
    name = write_app(project)
    port = free_port()
    result = invoke("serve", "--app", name, "--server", "granian", "-w", "2", "-p", str(port))
    assert result.exit_code == 0, result.output
    [(target, options), served] = created
    assert target == f"{name}:app"
    assert options["interface"] == Interfaces.ASGI
    assert (options["address"], options["port"], options["workers"]) == ("0.0.0.0", port, 2)
    assert options["workers_kill_timeout"] == 30
    assert options["respawn_failed_workers"] is True
    assert options["working_dir"] == project
    limits = options["http1_settings"]
    assert (limits.header_read_timeout, limits.max_buffer_size) == (10_000, 65536)
    assert served[0] == "served"


# -- mistakes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "serve"])
def test_no_app_found(project: Path, command: str) -> None:
    assert_one_line_error(invoke(command), "no app found in", "--app MODULE:ATTR")


@pytest.mark.parametrize("command", ["run", "serve"])
def test_port_in_use(project: Path, command: str, uvicorn_calls: list[Any]) -> None:
    name = write_app(project)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke(command, "--app", name, "--host", "127.0.0.1", "--port", str(port))
    assert_one_line_error(result, f"port {port} on 127.0.0.1 is already in use", "--port")
    assert uvicorn_calls == []


def test_unknown_host(project: Path, uvicorn_calls: list[Any]) -> None:
    result = invoke("run", "--app", write_app(project), "--host", "no-such-host.invalid")
    assert_one_line_error(result, "cannot listen on --host 'no-such-host.invalid'")


@pytest.mark.parametrize("command", ["run", "serve"])
def test_uvicorn_missing(project: Path, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes `import uvicorn` fail
    result = invoke(command, "--app", write_app(project), "--port", str(free_port()))
    assert_one_line_error(result, "uvicorn is not installed: pip install 'prow[server]'")


def test_granian_missing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "granian", None)
    port = str(free_port())
    result = invoke("serve", "--app", write_app(project), "--server", "granian", "--port", port)
    assert_one_line_error(result, "granian is not installed: pip install granian")


def test_configuration_error(project: Path, uvicorn_calls: list[Any]) -> None:
    source = APP + "\n@app.get('/')\nasync def again() -> None: ...\n"
    result = invoke("serve", "--app", write_app(project, source), "--port", str(free_port()))
    assert_one_line_error(result, "prow.E007")
    assert uvicorn_calls == []


def test_broken_app_module(project: Path, uvicorn_calls: list[Any]) -> None:
    name = write_app(project, "import no_such_dependency_here\n")
    result = invoke("run", "--app", name)
    assert_one_line_error(result, "ModuleNotFoundError", "no_such_dependency_here")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["run", "--port", "70000"], "70000 is not in the range 1<=x<=65535"),
        (["run", "--port", "http"], "Invalid value for '--port'"),
        (["serve", "--workers", "0"], "0 is not in the range x>=1"),
        (["serve", "--server", "gunicorn"], "Invalid value for '--server'"),
        (["serve", "--graceful-timeout", "0"], "Invalid value for '--graceful-timeout'"),
        (["run", "--reload-now"], "No such option '--reload-now'"),
    ],
)
def test_bad_options(project: Path, args: list[str], complaint: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "Error: " in result.output
    assert complaint in result.output


@pytest.mark.parametrize("command", ["run", "serve"])
def test_help_has_examples(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert f"Examples:\n    prow {command}" in result.output


# -- real servers ------------------------------------------------------------------------------


@pytest.fixture
def start(project: Path) -> Iterator[Any]:
    """Start ``prow ARGS...`` in the project; every process it started is killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = project / f"server-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "prow.cli", *args],
                cwd=project,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, for the clean-up below
            )
        started.append(process)
        return process, log

    yield start
    for process in started:
        if process.poll() is None or _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(
    url: str, process: subprocess.Popen[bytes], log: Path, expect: str, seconds: float = 10
) -> None:
    """Poll ``url`` until it answers with ``expect`` in its body (10 s at most)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited early:\n{log.read_text()}"
        try:
            if expect in httpx.get(url, timeout=1).text:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} never answered {expect!r}:\n{log.read_text()}")


def edit(
    path: Path, text: str, url: str, process: subprocess.Popen[bytes], log: Path, expect: str
) -> None:
    """Write ``text`` to ``path`` until the reloaded server answers ``expect``.

    The file is written again every few seconds: a watcher on a busy machine may miss a
    change made while it was still scanning, and the reload, not the watcher, is under test.
    """
    for attempt in range(4):
        path.write_text(text + "\n" * attempt)
        try:
            wait_for(url, process, log, expect, seconds=5)
            return
        except AssertionError:
            if attempt == 3:
                raise


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM: the server and its workers must be gone within a few seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running 10 s after SIGTERM:\n{log.read_text()}") from None
    deadline = time.monotonic() + 5
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _group_alive(process.pid), "a worker outlived its server"


def test_run_serves_and_reloads(project: Path, start: Any) -> None:
    (project / "app.py").write_text(APP)
    port = free_port()
    process, log = start("run", "--port", str(port))
    url = f"http://127.0.0.1:{port}/"
    wait_for(url, process, log, '"one"')
    source = project / "app.py"
    edit(source, APP.replace('"one"', '"two"'), url, process, log, '"two"')
    broken = APP.replace('"one"', '"three')  # a syntax error
    edit(source, broken, url, process, log, "The app cannot be loaded")  # an answer, no hang
    edit(source, APP.replace('"one"', '"three"'), url, process, log, '"three"')
    stop(process, log)
    assert f"prow: running app:app at http://127.0.0.1:{port}" in log.read_text()


@pytest.mark.parametrize(
    "server",
    [
        "uvicorn",
        pytest.param(
            "granian",
            marks=pytest.mark.skipif(find_spec("granian") is None, reason="granian not installed"),
        ),
    ],
)
def test_serve_answers_and_stops_gracefully(project: Path, start: Any, server: str) -> None:
    mark = project / "slow-started"
    source = APP + (
        "\nimport pathlib\n\nimport anyio\n\n@app.get('/slow')\nasync def slow() -> str:\n"
        f"    pathlib.Path({str(mark)!r}).touch()\n"
        "    await anyio.sleep(1)\n    return 'finished'\n"
    )
    name = write_app(project, source)
    port = free_port()
    args = f"serve --app {name} --host 127.0.0.1 --port {port} --workers 2 --server {server}"
    process, log = start(*args.split())
    wait_for(f"http://127.0.0.1:{port}/", process, log, '"one"')
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(httpx.get, f"http://127.0.0.1:{port}/slow", timeout=10)
        deadline = time.monotonic() + 10
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.02)  # until the handler runs in a worker (a busy machine is slow)
        stop(process, log)
        # SIGTERM let the request in progress finish before the workers stopped.
        assert in_flight.result().text == '"finished"'
    assert process.returncode == 0, log.read_text()
    if server == "uvicorn":  # its log shows the order: shutdown began, then /slow answered
        text = log.read_text()
        assert text.index("Shutting down") < text.index('"GET /slow HTTP/1.1" 200'), text


def _slow_head(port: int, pause: float, budget: float) -> tuple[float, bytes]:
    """Send a request head one byte per ``pause``; how long the server bore it, what it said."""
    head = b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"a" * 1000
    with socket.create_connection(("127.0.0.1", port), timeout=budget) as sock:
        started = time.monotonic()
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                time.sleep(pause)
        except OSError:
            pass  # closed by the server: what is expected
        try:
            answer = sock.recv(200)
        except OSError:
            answer = b""
        return time.monotonic() - started, answer


def _huge_head(port: int) -> tuple[float, bytes]:
    """Send an 8 MB header; how long until the server refused it, and what it said."""
    request = b"GET / HTTP/1.1\r\nHost: big\r\nX-Big: " + b"a" * 8_000_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        with contextlib.suppress(OSError):  # reset by the server before all of it was sent
            sock.sendall(request)
        try:
            answer = sock.recv(200)
        except OSError:
            answer = b""
        return time.monotonic() - started, answer


@pytest.mark.parametrize(
    "server",
    [
        "uvicorn",
        pytest.param(
            "granian",
            marks=pytest.mark.skipif(find_spec("granian") is None, reason="granian not installed"),
        ),
    ],
)
def test_serve_refuses_slow_and_huge_request_heads(project: Path, start: Any, server: str) -> None:
    name = write_app(project)
    port = free_port()
    args = f"serve --app {name} --host 127.0.0.1 --port {port} --server {server}"
    process, log = start(*args.split(), "--header-timeout", "1")
    wait_for(f"http://127.0.0.1:{port}/", process, log, '"one"')

    # Slowloris: one byte every 50 ms would take a minute; the server cuts it after ~1 s.
    took, answer = _slow_head(port, pause=0.05, budget=5)
    assert took < 3, f"a slow client was kept {took:.1f} s"
    # uvicorn (through prow's protocol) says why; granian just closes the connection.
    assert answer.startswith(b"HTTP/1.1 408 ") if server == "uvicorn" else answer == b""
    took, answer = _huge_head(port)
    assert took < 2, f"an 8 MB header took {took:.1f} s to refuse"
    assert answer.startswith(b"HTTP/1.1 431 "), answer

    normal = httpx.get(f"http://127.0.0.1:{port}/", headers={"X-Fine": "a" * 4000})
    assert normal.json() == {"version": "one"}
    if server == "uvicorn":  # granian cannot leave it out (docs/cli.md)
        assert "server" not in normal.headers
    stop(process, log)
