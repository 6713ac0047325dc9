"""``SessionData``: the mapping a handler reads and writes as ``request.session``."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

__all__ = ["SessionData"]

Loader = Callable[[], dict[str, Any]]


class SessionData(MutableMapping[str, Any]):
    """One visitor's session: a dict of JSON-serialisable values, saved with the response.

    Reading and writing keys works as on a dict. The middleware saves the session (and sends
    ``Set-Cookie``) only when :attr:`modified` is true; writing a key, deleting one,
    :meth:`clear`, :meth:`rotate` and :meth:`invalidate` set it. Changing a value in place
    (``session["cart"].append(item)``) is not noticed: assign the value again, or set
    ``session.modified = True``.

    A cookie session is decoded on first access, so a request that never touches the
    session pays nothing for it.
    """

    __slots__ = ("_accessed", "_data", "_loader", "_rotate", "modified")

    def __init__(self, data: dict[str, Any] | None = None, loader: Loader | None = None) -> None:
        self._data = data
        self._loader = loader
        self._rotate = False
        self._accessed = False
        #: Whether the session must be saved when the response starts.
        self.modified = False

    @property
    def data(self) -> dict[str, Any]:
        """The underlying dict, loaded on first use."""
        self._accessed = True
        if self._data is None:
            self._data = self._loader() if self._loader is not None else {}
            self._loader = None
        return self._data

    @property
    def accessed(self) -> bool:
        """Whether the session was read or written during this request."""
        return self._accessed

    @property
    def rotating(self) -> bool:
        """Whether :meth:`rotate` was called: the next save issues a new session id."""
        return self._rotate

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.modified = True

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.modified = True

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def clear(self) -> None:
        """Remove every key; an empty session deletes its cookie (and its stored record)."""
        if self.data:
            self.data.clear()
            self.modified = True

    def rotate(self) -> None:
        """Keep the data but save it under a new session id (a freshly signed cookie).

        Call it when the user logs in or gains privileges. Session fixation: an attacker
        who planted a session id in the victim's browser before login must not share the
        logged-in session; after rotation the planted id no longer exists.
        """
        self._rotate = True
        self.modified = True

    def invalidate(self) -> None:
        """Forget the session entirely (log out): clear it and drop its id."""
        self.data.clear()
        self.rotate()

    def __repr__(self) -> str:
        shown = repr(self._data) if self._data is not None else "<not loaded yet>"
        return f"SessionData({shown}, modified={self.modified})"
