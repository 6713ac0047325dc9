"""Turning pydantic's validation errors into prow's problem entries."""

from __future__ import annotations

from typing import Any

from pydantic_core import ValidationError

__all__ = ["error_entries", "missing"]

_PLAIN = (str, int, float, bool, type(None))


def error_entries(exc: ValidationError, prefix: list[Any]) -> list[dict[str, Any]]:
    """One entry per error: where (``loc``), what (``msg``) and a stable ``type``."""
    entries = []
    for error in exc.errors(include_url=False, include_context=False):
        entry: dict[str, Any] = {
            "loc": [*prefix, *error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
        }
        value = error.get("input")
        if isinstance(value, _PLAIN) and not (isinstance(value, str) and len(value) > 200):
            entry["input"] = value
        entries.append(entry)
    return entries


def missing(loc: list[Any]) -> dict[str, Any]:
    return {"loc": loc, "msg": "Field required", "type": "missing"}
