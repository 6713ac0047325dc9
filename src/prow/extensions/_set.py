"""``ExtensionSet``: the app's installed extensions, set up in dependency order, run in lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from prow._exceptions import ConfigurationError
from prow.extensions import Extension

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["ExtensionSet", "ExtensionT", "requires_extension"]

ExtensionT = TypeVar("ExtensionT", bound=Extension)
logger = logging.getLogger("prow.error")

# The attribute a dependency callable carries to say which extension serves it.
_NEEDS = "__prow_extension__"


F = TypeVar("F")


def requires_extension(kind: type[Extension]) -> Callable[[F], F]:
    """Mark a dependency as served by extension ``kind``.

    When a route uses the dependency and the app has no such extension, the app installs
    ``kind()`` (its defaults) when it is built, not during a request.
    """

    def mark(call: F) -> F:
        setattr(call, _NEEDS, kind)
        return call

    return mark


class ExtensionSet:
    """The extensions of one app: installed, then set up once, then started and stopped."""

    __slots__ = ("_app", "_by_kind", "_pending", "_prepared", "_ready", "setting_up")

    def __init__(self, app: App) -> None:
        self._app = app
        self._pending: list[Extension] = []
        self._ready: list[Extension] = []
        self._by_kind: dict[type[Any], Extension] = {}
        #: (extension, route) pairs whose ``prepare_route`` has run: once each.
        self._prepared: set[tuple[int, int]] = set()
        #: True while ``setup`` hooks run: they may still add routes and middleware.
        self.setting_up = False

    def add(self, extension: Extension) -> None:
        """Record ``extension``; refuse what is not one, or a second of a unique kind."""
        if isinstance(extension, type) and issubclass(extension, Extension):
            name = extension.__name__
            raise ConfigurationError(
                "prow.E024",
                f"the class {name} was given where an extension is expected: install an "
                f"instance, {name}(...)",
            )
        if not isinstance(extension, Extension):
            raise ConfigurationError(
                "prow.E024",
                f"{extension!r} is not a prow extension: extensions subclass "
                "prow.extensions.Extension (install middleware with app.add_middleware)",
            )
        for installed in self._all():
            if installed is extension:
                return
            if type(extension).unique and _same_kind(installed, extension):
                raise ConfigurationError(
                    "prow.E023",
                    f"{type(extension).__name__} is installed twice on this app "
                    f"(already: {installed!r}); keep one",
                )
        self._pending.append(extension)
        self._by_kind.clear()

    def add_now(self, extension: ExtensionT) -> ExtensionT:
        """Add ``extension`` and, when the others are set up already, set it up at once."""
        self.add(extension)
        if self._app.is_built:
            self.set_up()
        return extension

    def replace(self, old: Extension, new: Extension) -> None:
        """Put ``new`` in the place of ``old``, which must not be set up yet (``prow.E021``)."""
        if old not in self._pending:
            raise ConfigurationError(
                "prow.E021", f"{old!r} is already set up; it cannot be replaced any more"
            )
        self._pending[self._pending.index(old)] = new
        self._by_kind.clear()

    def find(self, kind: type[ExtensionT]) -> ExtensionT | None:
        """The extension of class ``kind`` or a subclass, or ``None``."""
        found = self._by_kind.get(kind)
        if found is None:
            found = next((ext for ext in self._all() if isinstance(ext, kind)), None)
            if found is None:
                return None
            self._by_kind[kind] = found
        return found  # type: ignore[return-value]

    def ordered(self) -> tuple[Extension, ...]:
        """Set-up extensions in set-up order, then those not set up yet."""
        return (*self._ready, *self._pending)

    def _all(self) -> Iterable[Extension]:
        yield from self._ready
        yield from self._pending

    # -- set-up ---------------------------------------------------------------------------

    def set_up(self) -> None:
        """Run ``setup(app)`` of every extension not set up yet, requirements first."""
        self.setting_up = True
        try:
            while self._pending:
                self._set_up(self._pending[0], ())
        finally:
            self.setting_up = False

    def _set_up(self, extension: Extension, chain: tuple[Extension, ...]) -> None:
        if extension in chain:
            names = " -> ".join(type(ext).__name__ for ext in (*chain, extension))
            raise ConfigurationError("prow.E026", f"extensions require each other: {names}")
        for kind in type(extension).requires:
            needed = self.find(kind)
            if needed is None:
                needed = kind()
                self._pending.append(needed)
                self._by_kind.clear()
            if needed in self._pending:
                self._set_up(needed, (*chain, extension))
        self._pending.remove(extension)
        extension.setup(self._app)
        self._ready.append(extension)

    def prepare_routes(self, routes: Iterable[Any]) -> None:
        """Run each set-up extension's ``prepare_route`` on each HTTP route, once per pair."""
        hooks = [
            ext for ext in self._ready if type(ext).prepare_route is not Extension.prepare_route
        ]
        if not hooks:
            return
        for route in routes:
            if not hasattr(route, "methods"):  # websockets and mounts
                continue
            for extension in hooks:
                pair = (id(extension), id(route))
                if pair not in self._prepared:
                    self._prepared.add(pair)
                    extension.prepare_route(self._app, route)

    def needed_by(self, routes: Iterable[Any]) -> list[Extension]:
        """Default instances of the extensions that routes' dependencies need but lack."""
        missing: dict[type[Extension], Extension] = {}
        for route in routes:
            for option, where in _OPTION_EXTENSIONS.items():
                if option in getattr(route, "options", ()):
                    served = _import(where)
                    if served not in missing and self.find(served) is None:
                        missing[served] = served()
            plan = getattr(route, "plan", None)
            if plan is None:
                continue
            for call_plan in plan.all_plans():
                kind = getattr(call_plan.call, _NEEDS, None)
                if kind is not None and kind not in missing and self.find(kind) is None:
                    missing[kind] = kind()
        return list(missing.values())

    # -- the lifespan -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start every extension (set-up order), and stop those started (reverse order)."""
        started: list[Extension] = []
        try:
            for extension in self._ready:
                await extension.startup(self._app)
                started.append(extension)
            yield
        finally:
            for extension in reversed(started):
                try:
                    await extension.shutdown(self._app)
                except Exception:
                    logger.exception("%s failed to shut down", type(extension).__name__)

    async def release(self) -> None:
        """Run every set-up extension's ``release`` (reverse order)."""
        for extension in reversed(self._ready):
            try:
                await extension.release(self._app)
            except Exception:
                logger.exception("%s failed to release its resources", type(extension).__name__)


#: Route options served by a battery: a route using one gets that battery's defaults installed
#: when the app is built (named by module path: the core never imports a battery itself).
_OPTION_EXTENSIONS = {"cache": "prow.cache:Cache"}


def _import(where: str) -> type[Extension]:
    import importlib

    module, _, name = where.partition(":")
    kind: type[Extension] = getattr(importlib.import_module(module), name)
    return kind


def _same_kind(one: Extension, other: Extension) -> bool:
    return isinstance(one, type(other)) or isinstance(other, type(one))
