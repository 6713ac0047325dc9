"""A relationship read before it was loaded: say which one and how to load it.

In async SQLAlchemy an attribute that is not loaded cannot be fetched on first access (that
would be hidden I/O inside an attribute read), so ``item.category`` on a row loaded without
its category fails — ``MissingGreenlet`` with a message about greenlets while the session is
open, ``DetachedInstanceError`` once the response is serialized after it closed. A Django
user has never met either; the fix is one loader option. The error stays the 500 it is (a
bug in the handler, not in the request); :func:`explain` adds a note to it, shown in the
log, the debug page and a failing test, naming the relationship and the option.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import RelationshipProperty

__all__ = ["explain"]

# The frames of SQLAlchemy's lazy loader and of an expired attribute's refresh.
_LAZY_LOAD = frozenset(("_load_for_state", "_emit_lazyload"))
_REFRESH = frozenset(("load_scalar_attributes", "_load_expired"))
# SQLAlchemy's DetachedInstanceError for a lazy load, also when pydantic wraps it.
_DETACHED = re.compile(
    r"Parent instance <(\w+) at [^>]*> is not bound to a Session; "
    r"lazy load operation of attribute '(\w+)'"
)


def explain(exc: BaseException) -> str | None:
    """The fix for an unloaded attribute read in async code, or ``None`` for other errors."""
    if isinstance(exc, sa_exc.MissingGreenlet) or (
        isinstance(exc, sa_exc.StatementError) and isinstance(exc.orig, sa_exc.MissingGreenlet)
    ):
        return _explain_missing_greenlet(exc)
    for error in (exc, exc.__cause__):
        found = _DETACHED.search(str(error)) if error is not None else None
        if found is not None:
            return _load_it(f"{found[1]}.{found[2]}", found[2])
    return None


def _load_it(name: str, key: str) -> str:
    return (
        f"prow: the relationship {name} was read but not loaded, and async code cannot load "
        f"it on first access. Load it with the query: .options(selectinload({name})) (or "
        f"joinedload for one row), or 'await row.awaitable_attrs.{key}' while the session is "
        "open; a response schema that shows it needs it loaded too."
    )


def _explain_missing_greenlet(exc: BaseException) -> str:
    relationship, refreshed = _culprit(exc.__traceback__)
    if relationship is not None:
        key = relationship.key
        return _load_it(f"{relationship.parent.class_.__name__}.{key}", key)
    if refreshed:
        return (
            "prow: an expired attribute was read after a commit or rollback, and async code "
            "cannot reload it on access: read it before, or 'await session.refresh(row)'."
        )
    return (
        "prow: SQLAlchemy tried to query outside 'await' (a lazy load or a refresh): load "
        "what the code reads in the query itself (selectinload / joinedload)."
    )


def _culprit(tb: TracebackType | None) -> tuple[RelationshipProperty[Any] | None, bool]:
    refreshed = False
    while tb is not None:
        code = tb.tb_frame.f_code.co_name
        if code in _LAZY_LOAD:
            prop = getattr(tb.tb_frame.f_locals.get("self"), "parent_property", None)
            if isinstance(prop, RelationshipProperty):
                return prop, False
        refreshed = refreshed or code in _REFRESH
        tb = tb.tb_next
    return None, refreshed
