"""A runner for the subset of Hurl (https://hurl.dev) that the official RealWorld suite uses.

Hurl is not installable on every machine that runs these tests, so this reads the ``.hurl``
files itself and sends their requests through any ``httpx.Client`` (``prow.testing.TestClient``
runs the app in process). What it understands, and nothing more:

- an entry: ``METHOD URL``, ``Name: value`` headers, an optional JSON body (sent as
  ``application/json``), then ``HTTP <status>`` (or ``HTTP *``);
- ``[Captures]``: ``name: <query>``, the value kept as a variable for the entries after it;
- ``[Asserts]``: ``<query> [count] [not] <predicate> [value]``;
- queries ``jsonpath "$.a.b[0]"`` (definite paths only), ``header "Name"`` and ``status``;
- predicates ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``contains``, ``startsWith``,
  ``endsWith``, ``matches``, ``exists``, ``isString``, ``isInteger``, ``isFloat``,
  ``isNumber``, ``isBoolean``, ``isList``, ``isObject``, ``isEmpty``;
- ``{{name}}`` variables in URLs, headers, bodies and quoted values; a bare ``{{name}}``
  value compares as the variable's own type (an integer capture stays an integer).

Anything else in a file is a ``HurlSyntaxError`` naming its line, never silently skipped.
As Hurl does, a file stops at its first failing entry (later entries use its captures).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Entry", "FileResult", "HurlSyntaxError", "parse", "run"]

_METHOD = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+)$")
_HEADER = re.compile(r"^([A-Za-z0-9-]+):\s*(.*)$")
_STATUS = re.compile(r"^HTTP(?:/[\d.]+)? (\d{3}|\*)$")
_SECTION = re.compile(r"^\[(\w+)\]$")
_CAPTURE = re.compile(r"^(\w+):\s*(.+)$")
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\{\{\w+\}\}|\S+')
_VARIABLE = re.compile(r"\{\{(\w+)\}\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


class HurlSyntaxError(ValueError):
    """A line this runner does not understand (so it would not check what the file says)."""


# -- the parsed file ------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    kind: str  # "jsonpath", "header" or "status"
    argument: str = ""  # the path or the header's name
    count: bool = False  # the ``count`` filter: the length of the list found


@dataclass(frozen=True)
class Check:
    """One line of ``[Asserts]``: ``query [not] predicate [operand]``."""

    line: int
    text: str
    query: Query
    predicate: str
    negated: bool = False
    operand: str | None = None  # its source text, rendered with the variables when run


@dataclass
class Entry:
    """One request of a file and what its answer must be."""

    line: int
    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    status: int | None = None  # None for ``HTTP *``
    captures: list[tuple[str, Query]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def parse(text: str) -> list[Entry]:
    """The entries of a ``.hurl`` file, in order."""
    entries: list[Entry] = []
    section = "response"
    body: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if body is not None:  # a JSON body runs until the status line
            if _STATUS.match(line):
                entries[-1].body, body = "\n".join(body), None
                entries[-1].status = _status(line)
                section = "response"
            else:
                body.append(raw)
            continue
        if not line or line.startswith("#"):
            continue
        if found := _METHOD.match(line):
            entries.append(Entry(number, found.group(1), found.group(2)))
            section = "request"
        elif not entries:
            raise HurlSyntaxError(f"line {number}: expected a request, found {line!r}")
        elif section == "request":
            section, body = _request_line(entries[-1], number, line)
        else:
            section = _response_line(entries[-1], number, line, section)
    if body is not None or (entries and section == "request"):
        raise HurlSyntaxError(f"line {entries[-1].line}: the request has no HTTP status line")
    return entries


def _status(line: str) -> int | None:
    code = line.rsplit(" ", 1)[1]
    return None if code == "*" else int(code)


def _request_line(entry: Entry, number: int, line: str) -> tuple[str, list[str] | None]:
    """Read a header, the start of a body or the status line; the section and body next."""
    if _STATUS.match(line):
        entry.status = _status(line)
        return "response", None
    if found := _SECTION.match(line):
        raise HurlSyntaxError(f"line {number}: section [{found.group(1)}] is not supported")
    if line.startswith(("{", "[")) and entry.body is None:
        return "request", [line]
    if found := _HEADER.match(line):
        entry.headers.append((found.group(1), found.group(2)))
        return "request", None
    raise HurlSyntaxError(f"line {number}: not a header, a JSON body or a status: {line!r}")


def _response_line(entry: Entry, number: int, line: str, section: str) -> str:
    if found := _SECTION.match(line):
        if found.group(1) not in ("Asserts", "Captures"):
            raise HurlSyntaxError(f"line {number}: section [{found.group(1)}] is not supported")
        return found.group(1)
    if section == "Captures" and (found := _CAPTURE.match(line)):
        query, rest = _query(number, _TOKEN.findall(found.group(2)))
        if rest:
            raise HurlSyntaxError(f"line {number}: unexpected {' '.join(rest)!r}")
        entry.captures.append((found.group(1), query))
    elif section == "Asserts":
        entry.checks.append(_check(number, line))
    else:
        raise HurlSyntaxError(f"line {number}: expected [Asserts] or [Captures]: {line!r}")
    return section


def _query(number: int, tokens: list[str]) -> tuple[Query, list[str]]:
    if tokens[:1] == ["status"]:
        return Query("status"), tokens[1:]
    if len(tokens) < 2 or tokens[0] not in ("jsonpath", "header") or tokens[1][:1] != '"':
        raise HurlSyntaxError(f"line {number}: unsupported query {' '.join(tokens)!r}")
    kind, argument, rest = tokens[0], _unquote(tokens[1]), tokens[2:]
    if kind == "jsonpath":
        _path_steps(argument)  # refuse an unsupported path when reading, not when running
    if rest[:1] == ["count"]:
        return Query(kind, argument, count=True), rest[1:]
    return Query(kind, argument), rest


def _check(number: int, line: str) -> Check:
    query, rest = _query(number, _TOKEN.findall(line))
    negated = rest[:1] == ["not"]
    rest = rest[1:] if negated else rest
    if not rest or rest[0] not in _PREDICATES:
        raise HurlSyntaxError(f"line {number}: unsupported predicate in {line!r}")
    takes_operand = rest[0] not in _TYPE_PREDICATES
    if len(rest) != (2 if takes_operand else 1):
        raise HurlSyntaxError(f"line {number}: wrong number of values in {line!r}")
    operand = rest[1] if takes_operand else None
    return Check(number, line, query, rest[0], negated, operand)


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), token[1:-1])


# -- JSONPath (definite paths only) -----------------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z_][\w-]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def _path_steps(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise HurlSyntaxError(f"JSONPath {path!r} must start with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        found = _STEP.match(path, position)
        if found is None:
            raise HurlSyntaxError(f"JSONPath {path!r}: unsupported syntax at {path[position:]!r}")
        name, index, quoted, double = found.groups()
        steps.append(int(index) if index is not None else name or quoted or double)
        position = found.end()
    return steps


_MISSING = object()


def _json_path(document: Any, path: str) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    value = document
    for step in _path_steps(path):
        in_list = (
            isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value)
        )
        if not (in_list or (isinstance(value, dict) and step in value)):
            return _MISSING
        value = value[step]
    return value


# -- predicates -----------------------------------------------------------------------------


def _same(actual: Any, expected: Any) -> bool:
    # JSON has one number type, but a boolean is never a number (Python's True == 1).
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, expected: Any) -> bool:
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (actual, expected)
        )
        strings = isinstance(actual, str) and isinstance(expected, str)
        return (numbers or strings) and compare(actual, expected)

    return check


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_same(item, expected) for item in actual)
    return isinstance(actual, str) and isinstance(expected, str) and expected in actual


def _matches(actual: Any, pattern: Any) -> bool:
    return isinstance(actual, str) and re.search(str(pattern), actual) is not None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TYPE_PREDICATES: dict[str, Callable[[Any], bool]] = {
    "exists": lambda value: value is not _MISSING,
    "isString": lambda value: isinstance(value, str),
    "isInteger": _is_int,
    "isFloat": lambda value: isinstance(value, float),
    "isNumber": lambda value: _is_int(value) or isinstance(value, float),
    "isBoolean": lambda value: isinstance(value, bool),
    "isList": lambda value: isinstance(value, list),
    "isObject": lambda value: isinstance(value, dict),
    "isEmpty": lambda value: isinstance(value, str | list | dict) and len(value) == 0,
}
_PREDICATES: dict[str, Callable[..., bool]] = {
    **_TYPE_PREDICATES,
    "==": _same,
    "!=": lambda actual, expected: not _same(actual, expected),
    ">": _ordered(lambda a, b: a > b),
    ">=": _ordered(lambda a, b: a >= b),
    "<": _ordered(lambda a, b: a < b),
    "<=": _ordered(lambda a, b: a <= b),
    "contains": _contains,
    "startsWith": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.startswith(b),
    "endsWith": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.endswith(b),
    "matches": _matches,
}


# -- running ----------------------------------------------------------------------------------


@dataclass
class FileResult:
    """How many entries of a file passed, and why the first failing one did not."""

    path: Path
    total: int
    passed: int = 0
    failures: list[str] = field(default_factory=list)


class _Answer:
    """A response, with its JSON document read once (``_MISSING`` when it is not JSON)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        try:
            self.document: Any = response.json()
        except ValueError:
            self.document = _MISSING

    def value(self, query: Query) -> Any:
        if query.kind == "status":
            found: Any = self.response.status_code
        elif query.kind == "header":
            found = self.response.headers.get(query.argument, _MISSING)
        else:
            found = _json_path(self.document, query.argument)
        if query.count and found is not _MISSING:
            found = len(found) if isinstance(found, list) else _MISSING
        return found


def _render(template: str, variables: Mapping[str, Any], escape: bool = False) -> str:
    def value(found: re.Match[str]) -> str:
        if found.group(1) not in variables:
            raise KeyError(f"variable {found.group(1)!r} is not defined")
        text = str(variables[found.group(1)])
        return json.dumps(text)[1:-1] if escape else text

    return _VARIABLE.sub(value, template)


def _operand(source: str, variables: Mapping[str, Any]) -> Any:
    if source.startswith('"'):
        return _render(_unquote(source), variables)
    if found := re.fullmatch(r"\{\{(\w+)\}\}", source):
        return variables[found.group(1)]
    return json.loads(source)  # true, false, null, numbers


def _send(client: httpx.Client, entry: Entry, variables: Mapping[str, Any]) -> _Answer:
    headers = {name: _render(value, variables) for name, value in entry.headers}
    content = None
    if entry.body is not None:
        content = _render(entry.body, variables, escape=True).encode()
        headers.setdefault("Content-Type", "application/json")
    url = _render(entry.url, variables)
    return _Answer(client.request(entry.method, url, headers=headers, content=content))


def _holds(check: Check, actual: Any, variables: Mapping[str, Any]) -> bool:
    if actual is _MISSING and check.predicate != "exists":
        return False  # as in Hurl, no value fails every other predicate, even with `not`
    if check.operand is None:
        return _PREDICATES[check.predicate](actual) != check.negated
    expected = _operand(check.operand, variables)
    return bool(_PREDICATES[check.predicate](actual, expected)) != check.negated


def _failed_checks(answer: _Answer, entry: Entry, variables: Mapping[str, Any]) -> list[str]:
    failures = []
    if entry.status is not None and answer.response.status_code != entry.status:
        failures.append(f"HTTP {entry.status}: got {answer.response.status_code}")
    for check in entry.checks:
        actual = answer.value(check.query)
        if not _holds(check, actual, variables):
            shown = "nothing" if actual is _MISSING else json.dumps(actual)
            failures.append(f"line {check.line}: {_render(check.text, variables)} (got {shown})")
    return failures


def _capture(answer: _Answer, entry: Entry, variables: dict[str, Any]) -> list[str]:
    failures = []
    for name, query in entry.captures:
        value = answer.value(query)
        if value is _MISSING:
            failures.append(f"capture {name}: the answer has no {query.argument or query.kind}")
        else:
            variables[name] = value
    return failures


def run(client: httpx.Client, path: Path, variables: Mapping[str, Any]) -> FileResult:
    """Send the requests of the file at ``path`` in order, checking each answer."""
    entries = parse(path.read_text(encoding="utf-8"))
    result = FileResult(path, len(entries))
    known = dict(variables)
    for entry in entries:
        answer = _send(client, entry, known)
        # Captures first, as Hurl does: an assert may use a value captured by its own entry.
        failures = _capture(answer, entry, known) + _failed_checks(answer, entry, known)
        if failures:
            request = f"{entry.method} {_render(entry.url, known)}"
            body = answer.response.text[:500]
            result.failures = [
                f"{path.name}:{entry.line}: {request}",
                *(f"  {failure}" for failure in failures),
                f"  answer: {answer.response.status_code} {body}",
            ]
            return result
        result.passed += 1
    return result
