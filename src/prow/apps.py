"""Apps: the packages a project lists in ``settings.apps``, each registering itself by convention.

::

    # myproject/settings.py
    class Settings(prow.settings.Settings):
        apps: list[str] = ["myproject.apps.blog", "myproject.apps.shop"]

    # myproject/main.py: stays this short however many apps the project has
    from prow.apps import create_app
    from myproject.settings import Settings

    app = create_app(Settings())

For each listed module, discovery imports it and looks up, first in the module itself and then
in the conventional submodule named here:

=========================== ============== =====================================================
name                        submodule      what happens
=========================== ============== =====================================================
``models``                  ``models``     imported, so its ``Model`` classes join the metadata
                                           that migrations compare against
``router`` / ``routers``    ``routes``     included in the app (a ``Router`` or a list of them)
``commands``                ``commands``   commands for the ``prow`` CLI (:func:`cli_commands`)
``on_startup``              (the module)   a callable, or a list of them, run at start-up
``on_shutdown``             (the module)   the same, run at shut-down
``setup``                   (the module)   ``setup(app)``, called once when the app is made:
                                           install the app's batteries
                                           (``app.install(Auth())``), middleware, handlers
=========================== ============== =====================================================

Every mistake raises :class:`prow.ConfigurationError` naming the module, when the app is made:

- ``prow.E701`` a listed module does not exist;
- ``prow.E702`` importing it (or one of its conventional submodules) raised;
- ``prow.E703`` its ``router``/``routers`` is not a ``prow.Router``;
- ``prow.E704`` its ``commands`` are not click commands;
- ``prow.E705`` its ``on_startup``/``on_shutdown``/``setup`` is not callable;
- ``prow.E706`` a module is listed twice;
- ``prow.E707`` ``settings.apps`` is not a list of module names.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from prow._app import App
from prow._exceptions import ConfigurationError
from prow._routing._router import Router

if TYPE_CHECKING:
    import click

    from prow.settings import Settings

__all__ = ["AppModule", "cli_commands", "create_app", "discover", "load_apps"]

_MISSING = object()


@dataclass(frozen=True)
class AppModule:
    """What one listed app contributes, as found by :func:`load_apps`."""

    name: str
    module: ModuleType
    routers: tuple[Router, ...] = ()
    commands: tuple[click.Command, ...] = ()
    on_startup: tuple[Callable[[], Any], ...] = ()
    on_shutdown: tuple[Callable[[], Any], ...] = ()
    setup: Callable[[App], Any] | None = None
    submodules: dict[str, ModuleType] = field(default_factory=dict)


def create_app(settings: Settings | None = None, **options: Any) -> App:
    """Make the project's :class:`~prow.App` from ``settings`` and the apps it lists.

    ``settings`` defaults to :func:`prow.settings.load_settings` (the environment and
    ``.env``). ``options`` override the ``App`` arguments the settings give (debug, database
    URL...). The settings are kept on ``app.state.settings`` for commands such as ``prow check``.
    """
    from prow.settings import app_kwargs, load_settings

    if settings is None:
        settings = load_settings()
    # The title is not among app_kwargs: App(**app_kwargs(settings), title=...) must keep working.
    app = App(**{**app_kwargs(settings), "title": settings.title, **options})
    app.state.settings = settings
    discover(app, _listed_apps(settings))
    return app


def discover(app: App, names: Iterable[str]) -> list[AppModule]:
    """Import the app modules ``names`` and register what each exposes on ``app``."""
    found = load_apps(names)
    for entry in found:
        if entry.setup is not None:
            entry.setup(app)
        for router in entry.routers:
            app.include(router)
        for hook in entry.on_startup:
            app.on_startup(hook)
        for hook in entry.on_shutdown:
            app.on_shutdown(hook)
    return found


def cli_commands(settings: Settings | None = None) -> list[click.Command]:
    """The click commands the apps listed in ``settings`` add to the ``prow`` CLI."""
    if settings is None:
        from prow.settings import load_settings

        settings = load_settings()
    return [command for entry in load_apps(_listed_apps(settings)) for command in entry.commands]


def load_apps(names: Iterable[str]) -> list[AppModule]:
    """Import each app module in ``names`` and collect what it exposes, without registering it."""
    if isinstance(names, str):
        raise ConfigurationError(
            "prow.E707", f"apps must be a list of module names, not the string {names!r}"
        )
    seen: set[str] = set()
    found: list[AppModule] = []
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                "prow.E707", f"apps must be a list of module names; {name!r} is not one"
            )
        if name in seen:
            raise ConfigurationError("prow.E706", f"app {name!r} is listed twice in apps")
        seen.add(name)
        found.append(_load_app(name))
    return found


def _listed_apps(settings: Any) -> Sequence[str]:
    apps: Sequence[str] = getattr(settings, "apps", ())
    return apps


def _load_app(name: str) -> AppModule:
    module = _import_app(name)
    submodules = {
        sub: found
        for sub in ("models", "routes", "commands")
        if (found := _import_submodule(module, sub)) is not None
    }
    return AppModule(
        name=name,
        module=module,
        routers=_routers(name, _lookup(module, submodules.get("routes"), "router", "routers")),
        commands=_commands(name, _lookup(module, submodules.get("commands"), "commands")),
        on_startup=_hooks(name, "on_startup", getattr(module, "on_startup", None)),
        on_shutdown=_hooks(name, "on_shutdown", getattr(module, "on_shutdown", None)),
        setup=_setup(name, getattr(module, "setup", None)),
        submodules=submodules,
    )


def _import_app(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(f"{exc.name}.")):
            raise ConfigurationError(
                "prow.E701",
                f"app {name!r} listed in apps cannot be found: check the spelling, or create "
                "it with `prow startapp`",
            ) from None
        raise _import_failed(name, exc) from exc
    except Exception as exc:  # the app's own code raised: name the app and the line
        raise _import_failed(name, exc) from exc


def _import_submodule(module: ModuleType, sub: str) -> ModuleType | None:
    """``module.sub`` when the app is a package that has it, else ``None``."""
    if not hasattr(module, "__path__"):
        return None  # a single-module app has no submodules
    full = f"{module.__name__}.{sub}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise _import_failed(full, exc) from exc
    except Exception as exc:
        raise _import_failed(full, exc) from exc


def _import_failed(name: str, exc: BaseException) -> ConfigurationError:
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and not isinstance(exc, SyntaxError):  # a SyntaxError names its own line
        last = frames[-1]
        where = f" ({Path(last.filename).name}:{last.lineno})"
    return ConfigurationError(
        "prow.E702", f"importing app module {name!r} failed: {type(exc).__name__}: {exc}{where}"
    )


def _lookup(module: ModuleType, fallback: ModuleType | None, *attrs: str) -> dict[str, Any]:
    """``{attr: value}`` for the ``attrs`` the module defines, else those of ``fallback``."""
    for source in (module, fallback):
        if source is None:
            continue
        values = {attr: getattr(source, attr, _MISSING) for attr in attrs}
        # Importing ``pkg.commands`` sets the attribute ``commands`` of ``pkg`` to that
        # submodule: a module is never the exported value itself.
        present = {
            attr: value
            for attr, value in values.items()
            if value is not _MISSING and not isinstance(value, ModuleType)
        }
        if present:
            return present
    return {}


def _routers(name: str, found: dict[str, Any]) -> tuple[Router, ...]:
    routers: list[Any] = []
    if "router" in found:
        routers.append(found["router"])
    if "routers" in found:
        routers.extend(_as_list(found["routers"]))
    for router in routers:
        if not isinstance(router, Router):
            raise ConfigurationError(
                "prow.E703",
                f"app {name!r}: router/routers must be prow Router objects, "
                f"not {type(router).__name__}",
            )
    return tuple(routers)


def _commands(name: str, found: dict[str, Any]) -> tuple[click.Command, ...]:
    if "commands" not in found:
        return ()
    import click

    commands = _as_list(found["commands"])
    for command in commands:
        if not isinstance(command, click.Command):
            raise ConfigurationError(
                "prow.E704",
                f"app {name!r}: commands must be click commands (decorate them with "
                f"@click.command()), not {type(command).__name__}",
            )
    return tuple(commands)


def _hooks(name: str, kind: str, value: Any) -> tuple[Callable[[], Any], ...]:
    if value is None:
        return ()
    hooks = _as_list(value)
    for hook in hooks:
        if not callable(hook):
            raise ConfigurationError(
                "prow.E705",
                f"app {name!r}: {kind} must be a function or a list of functions, "
                f"not {type(hook).__name__}",
            )
    return tuple(hooks)


def _setup(name: str, value: Any) -> Callable[[App], Any] | None:
    if value is not None and not callable(value):
        raise ConfigurationError(
            "prow.E705",
            f"app {name!r}: setup must be a function setup(app), not {type(value).__name__}",
        )
    return value  # type: ignore[no-any-return]


def _as_list(value: Any) -> list[Any]:
    """A single object, or the items of a list/tuple: ``router`` and ``[router, ...]`` alike."""
    return list(value) if isinstance(value, list | tuple) else [value]
