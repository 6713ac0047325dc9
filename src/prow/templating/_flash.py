"""Flash messages: a note stored in the session now, shown once on the next page.

``flash(request, "Saved")`` before a redirect; the next page's template shows it with
``get_flashed_messages()``, which removes it from the session, so a reload does not show it
again. Messages are plain text: templates escape them like any other value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from prow.scope import FLASHES

if TYPE_CHECKING:
    from prow._request import HTTPConnection

__all__ = ["FLASH_KEY", "flash", "get_flashed_messages"]

#: The session key holding the pending messages, as ``[category, message]`` pairs.
FLASH_KEY = "_flashes"
# Messages read during this request: a layout and a page may both ask for them.
_SCOPE_KEY = FLASHES


def flash(request: HTTPConnection, message: str, category: str = "info") -> None:
    """Keep ``message`` in the session until a page shows it (needs a session middleware)."""
    session = _session(request)
    if session is None:
        raise RuntimeError(
            "flash() keeps messages in the session: add a session middleware to the app "
            "(see docs/sessions.md)"
        )
    # Assigned, not appended in place, so that every session backend sees the change.
    session[FLASH_KEY] = [*session.get(FLASH_KEY, ()), [str(category), str(message)]]


@overload
def get_flashed_messages(
    request: HTTPConnection,
    with_categories: Literal[False] = False,
    category_filter: Iterable[str] = (),
) -> list[str]: ...


@overload
def get_flashed_messages(
    request: HTTPConnection,
    with_categories: Literal[True],
    category_filter: Iterable[str] = (),
) -> list[tuple[str, str]]: ...


def get_flashed_messages(
    request: HTTPConnection, with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """The pending messages (removed from the session); ``[]`` when there is no session.

    ``with_categories=True`` gives ``(category, message)`` pairs; ``category_filter``
    keeps only the categories it names.
    """
    pending: list[tuple[str, str]] | None = request.scope.get(_SCOPE_KEY)
    if pending is None:
        session = _session(request)
        stored = session.pop(FLASH_KEY, None) if session is not None else None
        pending = [(str(c), str(m)) for c, m in stored or ()]
        request.scope[_SCOPE_KEY] = pending
    wanted = set(category_filter)
    chosen = [pair for pair in pending if not wanted or pair[0] in wanted]
    if with_categories:
        return chosen
    return [message for _, message in chosen]


def _session(request: HTTPConnection) -> Any:
    return request.scope.get("session")
