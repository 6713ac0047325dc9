"""Inspection commands: ``prow routes``, ``prow openapi`` and ``prow shell``."""

from __future__ import annotations

import ast
import asyncio
import code
import importlib
import inspect
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import CodeType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prow._exceptions import ConfigurationError
from prow._routing._route import Mount, Route, WebSocketRoute
from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLIError

if TYPE_CHECKING:
    from prow import App

__all__ = ["checked_routes", "openapi", "routes", "shell", "shell_namespace"]

_T = TypeVar("_T")

#: The usual reading order of HTTP methods in the routes table; others follow alphabetically.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def checked_routes(app: App) -> list[Route | WebSocketRoute | Mount]:
    """``app.routes``, with a configuration mistake (``prow.E...``) reported as one line."""
    try:
        return app.routes
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from None


# -- prow routes -------------------------------------------------------------------------------


@click.command()
@app_option
def routes(app_path: str | None) -> None:
    """List the app's routes: methods, path, name and handler, in matching order.

    WS marks a websocket route and MOUNT another app mounted under a path (its handler
    column names the mounted app).

    \b
    Examples:
      prow routes
      prow routes --app myproject.main:app | grep /api
    """
    rows = [_route_row(route) for route in checked_routes(load_app(app_path))]
    if not rows:
        click.echo("No routes.")
        return
    table = [("METHODS", "PATH", "NAME", "HANDLER"), *rows]
    widths = [max(len(row[column]) for row in table) for column in range(3)]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]).rstrip())


def _route_row(route: Route | WebSocketRoute | Mount) -> tuple[str, str, str, str]:
    name = route.name or "-"
    if isinstance(route, Mount):
        return ("MOUNT", route.path or "/", name, _qualified(route.app))
    if isinstance(route, WebSocketRoute):
        return ("WS", route.path, name, _qualified(route.endpoint))
    return (_methods(route.methods), route.path, name, _qualified(route.endpoint))


def _methods(methods: frozenset[str]) -> str:
    def key(method: str) -> tuple[int, str]:
        order = _METHOD_ORDER.index(method) if method in _METHOD_ORDER else len(_METHOD_ORDER)
        return order, method

    return ",".join(sorted(methods, key=key))


def _qualified(target: object) -> str:
    """``module.qualname`` of a function or class; of its class for any other object.

    prow's own handlers (the API docs routes...) live in private modules a user cannot
    import; they are shown as the public package that adds them, such as ``prow.openapi``.
    """
    if not (inspect.isfunction(target) or inspect.isclass(target) or inspect.ismethod(target)):
        target = type(target)
    module: str | None = getattr(target, "__module__", None)
    name: str = getattr(target, "__qualname__", None) or repr(target)
    if module and module.startswith("prow.") and "._" in module:
        return module.partition("._")[0]
    return f"{module}.{name}" if module else name


# -- prow openapi ------------------------------------------------------------------------------


@click.command()
@app_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "yaml"]),
    help="The output format [default: yaml when --output ends in .yaml or .yml, else json].",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the document to FILE instead of standard output.",
)
def openapi(app_path: str | None, fmt: str | None, output: Path | None) -> None:
    """Print the app's OpenAPI 3.1 document (the one served at /openapi.json).

    \b
    Examples:
      prow openapi > openapi.json
      prow openapi --format yaml
      prow openapi --output docs/openapi.yaml --app myproject.main:app
    """
    app = load_app(app_path)
    checked_routes(app)
    if fmt is None:
        fmt = "yaml" if output is not None and output.suffix in {".yaml", ".yml"} else "json"
    text = render_document(app.openapi(), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {output}")


def render_document(document: dict[str, Any], fmt: str) -> str:
    """The document as pretty JSON or (with PyYAML) YAML text, ending in a newline."""
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    try:
        yaml: Any = importlib.import_module("yaml")
    except ModuleNotFoundError:
        raise CLIError("--format yaml needs PyYAML: pip install pyyaml") from None
    # A JSON round trip leaves only the plain types YAML's safe dumper accepts (no tuples).
    plain = json.loads(json.dumps(document))
    text: str = yaml.safe_dump(plain, sort_keys=False, allow_unicode=True)
    return text


# -- prow shell --------------------------------------------------------------------------------


@click.command()
@app_option
@click.option(
    "--plain", is_flag=True, help="Use the standard Python shell even if IPython is installed."
)
def shell(app_path: str | None, plain: bool) -> None:
    """Open an interactive Python shell with the app loaded.

    The shell knows `app`, `settings` (when the app has them), every prow.db model by class
    name, and `run(coro)`, which runs a coroutine on the shell's event loop. `await` works
    at the prompt, in IPython (used when installed) and in the standard shell alike.

    \b
    Examples:
      prow shell
      prow shell --plain --app myproject.main:app
    """
    namespace = shell_namespace(load_app(app_path))
    loop = asyncio.new_event_loop()

    def run(awaitable: Awaitable[_T]) -> _T:
        """Run ``awaitable`` to completion on the shell's event loop and return its result."""
        return loop.run_until_complete(awaitable)

    namespace["loop"], namespace["run"] = loop, run
    banner = _banner(namespace)
    try:
        ipython = None if plain else _optional_import("IPython")
        if ipython is not None:
            _start_ipython(ipython, namespace, run, banner)
        else:
            _AsyncConsole(namespace, loop).interact(banner=banner, exitmsg="")
    finally:
        # Close what the session opened (database pools, Redis clients) on its own loop.
        loop.run_until_complete(namespace["app"].release())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def shell_namespace(app: App) -> dict[str, Any]:
    """What the shell starts with: ``app``, ``settings`` if any, and the prow.db models."""
    namespace: dict[str, Any] = {"asyncio": asyncio, "app": app}
    settings = getattr(app, "settings", None)
    if settings is None and "settings" in app.state:
        settings = app.state.settings
    if settings is not None:
        namespace["settings"] = settings
    for name, model in _models().items():
        namespace.setdefault(name, model)
    return namespace


def _models() -> dict[str, type]:
    """Every mapped ``prow.db.Model`` class by name, if the app uses prow.db at all."""
    # Importing prow.db here would load SQLAlchemy for apps that never use it.
    if "prow.db" not in sys.modules:
        return {}
    from prow.db import Model

    classes = sorted((mapper.class_ for mapper in Model.registry.mappers), key=lambda c: c.__name__)
    return {cls.__name__: cls for cls in classes}


def _banner(namespace: dict[str, Any]) -> str:
    app = namespace["app"]
    names = sorted(name for name in namespace if name not in {"asyncio", "loop", "run"})
    return (
        f"prow shell: {app.title} {app.version} (Python {sys.version.split()[0]})\n"
        f"Loaded: {', '.join(names)}\n"
        "`await coro` works at the prompt; run(coro) does the same from code."
    )


def _optional_import(name: str) -> Any:
    """The module, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _start_ipython(
    ipython: Any, namespace: dict[str, Any], run: Callable[[Awaitable[Any]], Any], banner: str
) -> None:
    # IPython is imported by name: it is optional and has no type information to check.
    config: Any = importlib.import_module("traitlets.config").Config()
    config.TerminalInteractiveShell.banner2 = banner + "\n"
    config.InteractiveShell.autoawait = True
    # Top-level `await` runs on the same loop as run(): objects bound to a loop (database
    # connections, for one) stay usable from one prompt to the next.
    # (A plain function, as IPython deep-copies its configuration and cannot copy a loop.)
    config.InteractiveShell.loop_runner = run
    ipython.start_ipython(argv=[], user_ns=namespace, config=config)


class _AsyncConsole(code.InteractiveConsole):
    """The standard interactive console, also accepting a top-level ``await``."""

    def __init__(self, namespace: dict[str, Any], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(namespace)
        self.compile.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._loop = loop

    def runcode(self, code: CodeType) -> None:
        """Run one compiled prompt entry; one containing ``await`` runs on the shell's loop."""
        try:
            # The code is what the user typed into their own shell: running it is the point.
            result = eval(code, self.locals)  # noqa: S307
            if inspect.iscoroutine(result):
                self._loop.run_until_complete(result)
        except SystemExit:
            raise
        except BaseException:
            self.showtraceback()
