"""Public names that were renamed: the old name keeps working, with a ``DeprecationWarning``.

A package maps its old names to the new ones' full paths and calls :func:`renamed_attribute`
from its module ``__getattr__``, so the warning is given where the old name is read::

    _RENAMED = {"MemoryStore": "prow.sessions.MemorySessionStore"}

    def __getattr__(name: str) -> Any:
        return renamed_attribute(__name__, name, _RENAMED)

Type checkers see the old names through ``if TYPE_CHECKING:`` aliases in the package.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

__all__ = ["renamed_attribute"]


def renamed_attribute(module: str, name: str, renamed: Mapping[str, str]) -> Any:
    """The object the old ``name`` of ``module`` now lives at, with a deprecation warning.

    ``renamed`` maps an old name to the new full path (``"prow.csrf_token"``). Any other
    name raises the ``AttributeError`` a module without it would.
    """
    new = renamed.get(name)
    if new is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(f"{module}.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=3)
    home, _, attribute = new.rpartition(".")
    return getattr(importlib.import_module(home), attribute)
