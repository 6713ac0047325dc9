"""Serving commands: ``prow run`` (development, auto-reload) and ``prow serve`` (production).

Both hand the server an import string (``module:attr``), not the app object: the reloader
and every worker process import the app afresh, which is what makes reloading and
multi-process serving possible. The app is also imported here first, so that a mistake in
it (or a busy port) is reported as one line before any server starts.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import importlib
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from prow.cli._discovery import app_option, load_app, locate_app
from prow.cli._errors import CLIError
from prow.cli._inspect import checked_routes
from prow.cli._reloading import TARGET_ENV

if TYPE_CHECKING:
    from prow import App

__all__ = ["Target", "find_target", "run", "serve"]

#: Seconds in-flight requests get to finish after SIGTERM before workers are stopped.
DEFAULT_GRACEFUL_TIMEOUT = 30
#: Seconds a new worker has to start (the app's start-up included) when uvicorn replaces
#: workers on SIGHUP; uvicorn's own 5 s abandons the restart of an app slow to import.
WORKER_START_TIMEOUT = 30
#: Seconds a client has to send a request line and its headers (slowloris).
DEFAULT_HEADER_TIMEOUT = 10
#: Bytes a request line and its headers may take together.
DEFAULT_MAX_HEADER_SIZE = 64 * 1024

_SERVER_HINTS = {"uvicorn": "pip install 'prow[server]'", "granian": "pip install granian"}


@dataclasses.dataclass(frozen=True)
class Target:
    """The app to serve: the loaded object, how a server process imports it, and from where."""

    app: App
    import_string: str
    directory: Path


def find_target(app_path: str | None) -> Target:
    """Load the app as :func:`load_app` does and work out its ``module:attr`` import string."""
    directory, module, attr = locate_app(app_path)
    app = load_app(app_path)
    return Target(app, f"{module}:{attr}", directory)


_port_option = click.option(
    "--port",
    "-p",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The TCP port to listen on.",
)


@click.command()
@app_option
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@_port_option
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Restart the server when a file under the current folder changes.",
)
def run(app_path: str | None, host: str, port: int, reload: bool) -> None:
    """Start a development server (uvicorn) that restarts when your code changes.

    The app is found as for every command (--app, PROW_APP, ./app.py, ./main.py). Reloading
    uses watchfiles when it is installed, else polls the folder. For production use
    `prow serve`.

    \b
    Examples:
      prow run
      prow run --port 8080 --app myproject.main:app
      prow run --host 0.0.0.0 --no-reload   # reachable from other machines
    """
    target = find_target(app_path)
    has_admin = any(_is_admin(route.path) for route in checked_routes(target.app))
    check_port(host, port)
    uvicorn = _import_server("uvicorn")
    _print_banner(target, host, port, has_admin=has_admin)
    if reload:
        click.echo(f"  reloading on changes in {target.directory} ({_reload_method()})")
    # Reloading goes through prow's loader: after an edit that broke the app, the error page
    # rather than connections that hang.
    os.environ[TARGET_ENV] = target.import_string
    uvicorn.run(
        "prow.cli._reloading:load" if reload else target.import_string,
        factory=reload,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(target.directory)] if reload else None,
        app_dir=str(target.directory),
        lifespan="on",
        **_uvicorn_limits(DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_HEADER_SIZE),
    )


@click.command()
@app_option
@click.option(
    "--host",
    # Production servers usually run in a container or behind a proxy on another address.
    default="0.0.0.0",  # noqa: S104
    show_default=True,
    help="The address to listen on.",
)
@_port_option
@click.option(
    "--workers",
    "-w",
    default=1,
    show_default=True,
    envvar="WEB_CONCURRENCY",
    show_envvar=True,
    type=click.IntRange(min=1),
    help="How many worker processes to run.",
)
@click.option(
    "--server",
    type=click.Choice(sorted(_SERVER_HINTS)),
    default="uvicorn",
    show_default=True,
    help="The ASGI server to run the workers.",
)
@click.option(
    "--graceful-timeout",
    default=DEFAULT_GRACEFUL_TIMEOUT,
    show_default=True,
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="After SIGTERM or Ctrl-C, how long in-flight requests get to finish.",
)
@click.option(
    "--header-timeout",
    default=DEFAULT_HEADER_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="How long a client has to send a request's headers (408 and closed after).",
)
@click.option(
    "--max-header-size",
    default=DEFAULT_MAX_HEADER_SIZE,
    show_default=True,
    type=click.IntRange(min=8192),
    metavar="BYTES",
    help="The largest request line and headers accepted (431 past it).",
)
@click.option(
    "--forwarded-allow-ips",
    default="127.0.0.1",
    show_default=True,
    envvar="FORWARDED_ALLOW_IPS",
    show_envvar=True,
    metavar="ADDRESSES",
    help="Proxies (comma-separated IPs or networks, * for any) whose X-Forwarded-For and "
    "X-Forwarded-Proto are believed (uvicorn).",
)
def serve(
    app_path: str | None,
    host: str,
    port: int,
    workers: int,
    server: str,
    graceful_timeout: int,
    header_timeout: float,
    max_header_size: int,
    forwarded_allow_ips: str,
) -> None:
    """Serve the app in production: worker processes, graceful shutdown on SIGTERM.

    On SIGTERM (or Ctrl-C) the server stops accepting connections, lets in-flight requests
    finish for up to --graceful-timeout seconds, runs the app's shutdown hooks and exits.
    A client that is slower than --header-timeout to send its headers, or sends more than
    --max-header-size bytes of them, is refused; no Server header names the server. Behind
    a reverse proxy, list its address in --forwarded-allow-ips so that the client's address
    and scheme are the ones it forwards. With uvicorn and several workers, SIGHUP replaces
    the workers one at a time, each new one serving before its old one stops (a deploy).

    \b
    Examples:
      prow serve --workers 4
      prow serve --server granian --port 8080 --app myproject.main:app
      prow serve --forwarded-allow-ips 10.0.0.5   # behind the proxy at 10.0.0.5
    """
    target = find_target(app_path)
    checked_routes(target.app)
    check_port(host, port)
    module = _import_server(server)
    plural = "s" if workers > 1 else ""
    click.echo(
        f"prow: serving {target.import_string} with {server}, {workers} worker{plural}, "
        f"on {_url(host, port)}"
    )
    if server == "granian":
        limits = _granian_limits(header_timeout, max_header_size)
        _serve_granian(target, host, port, workers, graceful_timeout, limits)
    else:
        module.run(
            target.import_string,
            host=host,
            port=port,
            workers=workers,
            app_dir=str(target.directory),
            lifespan="on",
            timeout_graceful_shutdown=graceful_timeout,
            # The client address and scheme come from these proxies' headers, never from
            # anyone else's: a client could otherwise pick its own IP (rate limits, logs).
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            **_uvicorn_limits(header_timeout, max_header_size),
            **_uvicorn_supervisor(module),
        )


def _uvicorn_limits(header_timeout: float, max_header_size: int) -> dict[str, Any]:
    """uvicorn's options for bounded request heads and no ``Server`` header.

    uvicorn bounds neither the time nor (with httptools) the size of a request's head:
    prow's protocol subclasses do (see ``_protocols``). ``Server: uvicorn`` would tell an
    attacker which server, and which version's bugs, to try.
    """
    from prow.cli import _protocols

    protocol = _protocols.protocol()
    return {
        "http": functools.partial(
            protocol, head_timeout=header_timeout, max_head_size=max_header_size
        ),
        "h11_max_incomplete_event_size": max_header_size,
        "server_header": False,
    }


def _uvicorn_supervisor(uvicorn: Any) -> dict[str, Any]:
    """How long uvicorn's supervisor waits for a new worker (older uvicorns lack the option)."""
    import inspect

    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        return {"timeout_worker_healthcheck": WORKER_START_TIMEOUT}
    return {}


def _granian_limits(header_timeout: float, max_header_size: int) -> dict[str, Any]:
    """granian's options for bounded request heads (it sends no ``Server`` header).

    Its read buffer holds the head while it is parsed: a head that does not fit is
    answered 431. Older granian versions lack some settings: those are left out.
    """
    from granian.http import HTTP1Settings

    wanted: dict[str, Any] = {
        "header_read_timeout": round(header_timeout * 1000),  # milliseconds
        "max_buffer_size": max_header_size,
    }
    known = {field.name for field in dataclasses.fields(HTTP1Settings)}
    return {"http1_settings": HTTP1Settings(**{k: v for k, v in wanted.items() if k in known})}


def _serve_granian(
    target: Target, host: str, port: int, workers: int, timeout: int, limits: dict[str, Any]
) -> None:
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        target.import_string,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        working_dir=target.directory,
        workers_kill_timeout=timeout,
        respawn_failed_workers=True,  # as uvicorn's supervisor does
        **limits,
    ).serve()


def _import_server(name: str) -> Any:
    """The server module, or a one-line error saying how to install it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != name:
            raise
        raise CLIError(f"{name} is not installed: {_SERVER_HINTS[name]}") from None


def check_port(host: str, port: int) -> None:
    """Fail in one line when ``host:port`` cannot be listened on (busy, bad host, no permission).

    The servers would find out too, but report it in log lines after their start-up banner.
    The check binds the way they do (``SO_REUSEADDR``), so a port in TIME_WAIT counts as free.
    """
    try:
        # The address family the servers choose: IPv6 only for a host written with colons.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, family, socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise CLIError(f"cannot listen on --host {host!r}: {exc}") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CLIError(
                    f"port {port} on {host} is already in use: stop the other server "
                    "or choose another with --port"
                ) from None
            raise CLIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def _print_banner(target: Target, host: str, port: int, *, has_admin: bool) -> None:
    base = _url(host, port)
    app = target.app
    click.echo(f"prow: running {target.import_string} at {base}")
    if app.openapi_url is not None and app.docs_url is not None:
        click.echo(f"  API docs: {base}{app.docs_url}")
    if has_admin:
        click.echo(f"  admin:    {base}/admin")


def _url(host: str, port: int) -> str:
    """A URL a browser on this machine can open for a server listening on ``host``."""
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - compared, not bound
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _is_admin(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def _reload_method() -> str:
    from importlib.util import find_spec

    if find_spec("watchfiles") is not None:
        return "watchfiles"
    return "polling; pip install watchfiles for faster reloads"
