"""``app.dependency_overrides``: a dict that tells its app to re-plan the routes on change."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["DependencyOverrides"]


class DependencyOverrides(dict[Callable[..., Any], Callable[..., Any]]):
    """``app.dependency_overrides``: a dict that tells the app to re-plan routes on change."""

    def __init__(self, app: App) -> None:
        super().__init__()
        self._app = app

    def __setitem__(self, key: Callable[..., Any], value: Callable[..., Any]) -> None:
        super().__setitem__(key, value)
        self._app._stale = True

    def __delitem__(self, key: Callable[..., Any]) -> None:
        super().__delitem__(key)
        self._app._stale = True

    def clear(self) -> None:
        super().clear()
        self._app._stale = True

    def pop(self, key: Any, *default: Any) -> Any:
        self._app._stale = True
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._app._stale = True
