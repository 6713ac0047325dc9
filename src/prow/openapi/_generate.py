"""Building the OpenAPI 3.1 document from the compiled route plans."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prow._app import App

__all__ = ["build_openapi"]


def build_openapi(app: App) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": app.title, "version": app.version}, "paths": {}}
