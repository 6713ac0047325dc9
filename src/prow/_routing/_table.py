"""The compiled route table: one dict lookup for static paths, a segment tree for the rest.

Built once when the app starts; a request only walks it.
"""

from __future__ import annotations

from typing import Any

from prow._routing._path import PathTemplate, Segment

__all__ = ["Entry", "RouteTable"]


class Entry:
    """Everything registered at one path template: a handler per method, maybe a websocket."""

    __slots__ = ("allow", "methods", "template", "websocket")

    def __init__(self, template: PathTemplate) -> None:
        self.template = template
        self.methods: dict[str, Any] = {}
        self.websocket: Any = None
        self.allow = ""

    def finish(self) -> None:
        if "GET" in self.methods and "HEAD" not in self.methods:
            self.methods["HEAD"] = self.methods["GET"]
        self.allow = ", ".join(sorted(self.methods))


class _Node:
    __slots__ = ("catchall", "dynamic", "entries", "static")

    def __init__(self) -> None:
        self.static: dict[str, _Node] = {}
        self.dynamic: list[tuple[Segment, _Node]] = []
        self.catchall: list[tuple[str, Entry]] = []
        self.entries: list[Entry] = []


class RouteTable:
    """Maps a path to the ``Entry`` registered for it and the path parameters it carries."""

    __slots__ = ("_root", "_static")

    def __init__(self) -> None:
        self._static: dict[str, Entry] = {}
        self._root = _Node()

    def entry_for(self, template: PathTemplate) -> Entry:
        """The entry of ``template``, created on first use (several methods share one)."""
        if template.is_static:
            existing = self._static.get(template.path)
            if existing is None:
                existing = self._static[template.path] = Entry(template)
            return existing
        node = self._root
        for segment in template.segments:
            node = _child(node, segment)
        if template.catchall is not None:
            for name, entry in node.catchall:
                if name == template.catchall and entry.template.path == template.path:
                    return entry
            entry = Entry(template)
            node.catchall.append((template.catchall, entry))
            return entry
        for entry in node.entries:
            if entry.template.path == template.path:
                return entry
        entry = Entry(template)
        node.entries.append(entry)
        return entry

    def entries(self) -> list[Entry]:
        found = list(self._static.values())
        stack = [self._root]
        while stack:
            node = stack.pop()
            found.extend(node.entries)
            found.extend(entry for _, entry in node.catchall)
            stack.extend(node.static.values())
            stack.extend(child for _, child in node.dynamic)
        return found

    def finish(self) -> None:
        for entry in self.entries():
            entry.finish()

    def lookup(self, path: str, method: str | None) -> tuple[Entry, dict[str, Any]] | None:
        """Find the entry for ``path``, preferring one that handles ``method``."""
        entry = self._static.get(path)
        if entry is not None and (method is None or method in entry.methods):
            return entry, {}
        found: list[tuple[Entry, dict[str, Any]]] = []
        hit = _walk(self._root, path[1:].split("/"), 0, {}, method, found)
        if hit is not None:
            return hit
        if entry is not None:
            return entry, {}
        return found[0] if found else None


def _child(node: _Node, segment: Segment) -> _Node:
    if segment.text is not None:
        child = node.static.get(segment.text)
        if child is None:
            child = node.static[segment.text] = _Node()
        return child
    for existing, child in node.dynamic:
        if existing == segment:
            return child
    child = _Node()
    node.dynamic.append((segment, child))
    # Typed placeholders ({id:int}) are tried before catch-all text ones ({name}).
    node.dynamic.sort(key=lambda pair: pair[0].kind == "str")
    return child


def _wants(entry: Entry, method: str | None) -> bool:
    if method is None:
        return entry.websocket is not None
    return method in entry.methods


def _walk(
    node: _Node,
    parts: list[str],
    index: int,
    params: dict[str, Any],
    method: str | None,
    found: list[tuple[Entry, dict[str, Any]]],
) -> tuple[Entry, dict[str, Any]] | None:
    if index == len(parts):
        for entry in node.entries:
            if _wants(entry, method):
                return entry, params
            found.append((entry, params))
    else:
        child = node.static.get(parts[index])
        if child is not None:
            hit = _walk(child, parts, index + 1, params, method, found)
            if hit is not None:
                return hit
        for segment, sub in node.dynamic:
            values = segment.match(parts[index])
            if values is not None:
                hit = _walk(sub, parts, index + 1, {**params, **values}, method, found)
                if hit is not None:
                    return hit
    if index >= len(parts):
        return None
    for name, entry in node.catchall:
        rest = "/".join(parts[index:])
        values = {name: rest}
        if _wants(entry, method):
            return entry, {**params, **values}
        found.append((entry, {**params, **values}))
    return None
