"""Finding the user's app: ``--app module:attr``, else ``$PROW_APP``, else app.py / main.py."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from prow.cli._errors import CLIError

if TYPE_CHECKING:
    from prow import App

__all__ = ["APP_ENV_VAR", "DEFAULT_MODULES", "app_option", "load_app", "locate_app"]

APP_ENV_VAR = "PROW_APP"

#: Modules tried, in order, in the current directory when no app is named.
DEFAULT_MODULES = ("app", "main")

_F = TypeVar("_F", bound=Callable[..., Any])


def app_option(func: _F) -> _F:
    """The ``--app MODULE:ATTR`` option (env ``PROW_APP``), given to the command as ``app_path``."""
    option = click.option(
        "--app",
        "app_path",
        envvar=APP_ENV_VAR,
        metavar="MODULE:ATTR",
        help="The app to load, e.g. myproject.main:app or path/to/shop.py "
        f"[env {APP_ENV_VAR}; default: [tool.prow] app in the project's pyproject.toml, "
        "else `app` in ./app.py or ./main.py].",
    )
    return option(func)


def load_app(spec: str | None = None, *, directory: str | Path | None = None) -> App:
    """Import and return the user's :class:`prow.App`.

    ``spec`` is ``"module:attr"`` (``attr`` may be dotted) or ``"module"`` (attribute ``app``),
    or a path to a ``.py`` file (``"../proj/shop.py"``, ``"../proj/shop.py:api"``), imported
    as a module of that name with its folder first on ``sys.path``.
    Without one, the project's ``[tool.prow] app`` (from any of its folders), else ``app.py``
    then ``main.py`` in ``directory`` (default: the current one) must expose ``app``. The
    app's folder goes first on ``sys.path`` so the project's own imports work.
    Every failure raises :class:`CLIError` with a one-line message.
    """
    root, module_name, attr = locate_app(spec, directory=directory)
    if not spec and directory is None and (root / "pyproject.toml").is_file():
        # Found through the project from one of its subfolders: work from the project's
        # root, as from any other folder of it, so .env and relative paths (a SQLite file)
        # mean the same thing wherever the command was typed.
        os.chdir(root)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return _app_from(module_name, attr, root)


def locate_app(
    spec: str | None = None, *, directory: str | Path | None = None
) -> tuple[Path, str, str]:
    """Where the app is, without importing it: ``(folder, module name, attribute)``.

    The folder is what must be on ``sys.path`` (and a server's working directory) for
    ``module:attribute`` to import; see :func:`load_app` for how ``spec`` is read.
    """
    root = Path(directory or Path.cwd()).resolve()
    if spec and _is_file_spec(spec):
        file, _, attr = spec.partition(".py:") if ".py:" in spec else (spec[:-3], "", "")
        root = (root / f"{file}.py").resolve().parent
        module = Path(file).name
        # A file inside a package (shop/main.py next to shop/__init__.py) is imported by its
        # dotted name from above the package, so its own imports (from shop import ...) work.
        while (root / "__init__.py").is_file():
            module, root = f"{root.name}.{module}", root.parent
        spec = f"{module}:{attr}" if attr else module
    if spec:
        module_name, colon, attr = spec.partition(":")
        if not _is_module_name(module_name) or (colon and not attr):
            raise CLIError(
                f"--app {spec!r}: --app takes MODULE:ATTR (e.g. shop:app) or a path to a .py "
                "file (e.g. src/shop.py or src/shop.py:app)"
            )
        return root, module_name, attr or "app"
    # Inside a project, its declared app wins, from any of its subfolders.
    project = _project_app(root)
    if project is not None:
        return project
    for name in DEFAULT_MODULES:
        if (root / f"{name}.py").is_file():
            return root, name, "app"
    raise CLIError(
        f"no app found in {root}: pass --app MODULE:ATTR, set {APP_ENV_VAR}, "
        "or create app.py or main.py defining `app`"
    )


def _project_app(start: Path) -> tuple[Path, str, str] | None:
    """``[tool.prow] app = "pkg.main:app"`` of the project around ``start``, if any."""
    from prow.cli._project import find_project

    project = find_project(start)
    if project is None or not project.app:
        return None
    module_name, _, attr = project.app.partition(":")
    return project.root, module_name, attr or "app"


def _is_file_spec(spec: str) -> bool:
    """Whether ``--app`` names a file (``shop.py``, ``../proj/shop.py:api``), not a module."""
    return spec.endswith(".py") or ".py:" in spec


def _is_module_name(name: str) -> bool:
    """A dotted module name: no path separators, no relative (leading-dot) import."""
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _app_from(module_name: str, attr: str, root: Path) -> App:
    from prow import App

    found: Any = _import(module_name, root)
    for part in attr.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise CLIError(f"module {module_name!r} has no attribute {attr!r}") from None
    if not isinstance(found, App):
        raise CLIError(f"{module_name}:{attr} is a {type(found).__name__}, not a prow App")
    return found


def _import(module_name: str, root: Path) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise CLIError(f"cannot import {module_name!r}: no such module in {root}") from None
        raise CLIError(f"importing {module_name!r} failed: {_describe(exc, root)}") from None
    except Exception as exc:  # the user's module raised: show where, without a traceback
        raise CLIError(f"importing {module_name!r} failed: {_describe(exc, root)}") from None


def _describe(exc: BaseException, root: Path) -> str:
    """``"NameError: name 'x' is not defined (models.py:3)"``: the error and the user's line."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, SyntaxError):
        return text  # its message already names the file and line
    frames = traceback.extract_tb(exc.__traceback__)
    own = [frame for frame in frames if Path(frame.filename).is_relative_to(root)]
    if not (own or frames):
        return text
    frame = (own or frames)[-1]
    where = Path(frame.filename)
    shown = where.relative_to(root) if where.is_relative_to(root) else where
    return f"{text} ({shown}:{frame.lineno})"
