"""Path templates: ``/items/{item_id:int}`` parsed once into segment matchers and a URL builder."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from prow._exceptions import ConfigurationError

__all__ = ["CONVERTERS", "Converter", "PathTemplate", "Segment"]

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?}")


@dataclasses.dataclass(frozen=True, slots=True)
class Converter:
    """How a ``{name:kind}`` placeholder matches text and what it turns it into."""

    regex: str
    convert: Callable[[str], Any]
    to_string: Callable[[Any], str] = str


def _float_str(value: Any) -> str:
    return repr(float(value)).removesuffix(".0") if float(value).is_integer() else repr(value)


CONVERTERS: dict[str, Converter] = {
    "str": Converter(r"[^/]+", str),
    "int": Converter(r"[0-9]+", int),
    "float": Converter(r"[0-9]+(?:\.[0-9]+)?", float, _float_str),
    "uuid": Converter(
        r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
        uuid.UUID,
    ),
    "path": Converter(r".*", str),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    """One ``/``-separated piece of a template: text, one whole placeholder, or a mix."""

    text: str | None = None
    name: str | None = None
    converter: Converter | None = None
    kind: str = "str"
    regex: re.Pattern[str] | None = None
    names: tuple[tuple[str, Converter], ...] = ()

    @property
    def key(self) -> str:
        """Segments with the same key match the same strings (used to share tree nodes)."""
        if self.text is not None:
            return "=" + self.text
        if self.regex is not None:
            return "~" + self.regex.pattern
        return ":" + self.kind

    def match(self, part: str) -> dict[str, Any] | None:
        if self.converter is not None and self.name is not None:
            if self.kind != "str" and not re.fullmatch(self.converter.regex, part):
                return None
            if not part:
                return None
            return {self.name: self.converter.convert(part)}
        assert self.regex is not None
        found = self.regex.fullmatch(part)
        if found is None:
            return None
        return {name: conv.convert(found.group(name)) for name, conv in self.names}


class PathTemplate:
    """A compiled route path: its segments, parameter names and URL builder."""

    __slots__ = ("catchall", "names", "path", "regex", "segments")

    def __init__(self, path: str) -> None:
        if not path.startswith("/"):
            raise ConfigurationError(
                "prow.E010", f"route path {path!r} must start with '/' (did you mean '/{path}'?)"
            )
        self.path = path
        self.segments: list[Segment] = []
        self.catchall: str | None = None
        names: list[str] = []
        parts = path[1:].split("/")
        for position, part in enumerate(parts):
            segment = _parse_segment(path, part)
            if segment.kind == "path":
                if position != len(parts) - 1:
                    raise ConfigurationError(
                        "prow.E008", f"in {path!r}, a {{name:path}} placeholder must come last"
                    )
                self.catchall = segment.name
                names.append(segment.name or "")
                break
            names.extend((segment.names and [n for n, _ in segment.names]) or [])
            if segment.name:
                names.append(segment.name)
            self.segments.append(segment)
        if len(names) != len(set(names)):
            raise ConfigurationError("prow.E008", f"{path!r} repeats a parameter name")
        self.names = frozenset(names)
        self.regex = re.compile(_full_regex(path))

    @property
    def is_static(self) -> bool:
        return not self.names

    def match(self, path: str) -> dict[str, Any] | None:
        """The converted parameters when ``path`` fits this template, else None."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return {
            name: _converter_for(self.path, name).convert(value)
            for name, value in found.groupdict().items()
        }

    def format(self, params: dict[str, Any]) -> str:
        """Build a URL path, checking that exactly the template's parameters were given."""
        missing = self.names - set(params)
        extra = set(params) - self.names
        if missing or extra:
            raise ValueError(
                f"{self.path!r} needs parameters {sorted(self.names)}; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )

        def substitute(found: re.Match[str]) -> str:
            name, kind = found.group(1), found.group(2) or "str"
            text = CONVERTERS[kind].to_string(params[name])
            return quote(text, safe="/" if kind == "path" else "")

        return _PARAM.sub(substitute, self.path)


def _parse_segment(path: str, part: str) -> Segment:
    placeholders = list(_PARAM.finditer(part))
    if not placeholders:
        if "{" in part or "}" in part:
            raise ConfigurationError("prow.E008", f"malformed placeholder in {path!r}: {part!r}")
        return Segment(text=part)
    for found in placeholders:
        _kind(path, found.group(2))
    first = placeholders[0]
    if len(placeholders) == 1 and first.span() == (0, len(part)):
        kind = first.group(2) or "str"
        return Segment(name=first.group(1), converter=CONVERTERS[kind], kind=kind)
    if any((p.group(2) or "str") == "path" for p in placeholders):
        raise ConfigurationError("prow.E008", f"in {path!r}, {{name:path}} must fill its segment")
    pattern = ""
    last = 0
    names = []
    for found in placeholders:
        kind = found.group(2) or "str"
        pattern += re.escape(part[last : found.start()])
        regex = r"[^/]+?" if kind == "str" else CONVERTERS[kind].regex
        pattern += f"(?P<{found.group(1)}>{regex})"
        names.append((found.group(1), CONVERTERS[kind]))
        last = found.end()
    pattern += re.escape(part[last:])
    return Segment(regex=re.compile(pattern), names=tuple(names), kind="mixed")


def _kind(path: str, kind: str | None) -> Converter:
    converter = CONVERTERS.get(kind or "str")
    if converter is None:
        raise ConfigurationError(
            "prow.E008",
            f"unknown converter {kind!r} in {path!r}; known: {', '.join(sorted(CONVERTERS))}",
        )
    return converter


def _full_regex(path: str) -> str:
    pattern = ""
    last = 0
    for found in _PARAM.finditer(path):
        kind = found.group(2) or "str"
        pattern += re.escape(path[last : found.start()])
        pattern += f"(?P<{found.group(1)}>{CONVERTERS[kind].regex})"
        last = found.end()
    return pattern + re.escape(path[last:])


def _converter_for(path: str, name: str) -> Converter:
    for found in _PARAM.finditer(path):
        if found.group(1) == name:
            return CONVERTERS[found.group(2) or "str"]
    return CONVERTERS["str"]
