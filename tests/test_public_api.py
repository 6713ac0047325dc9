"""What users import: the public namespaces are complete, and tests and docs use only them.

A test or a docs page that needs a private ``prow._x`` name shows a public API that is
missing; the allow-list below names each exception and why it is one for now.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import prow
import prow.exceptions
import prow.types

ROOT = Path(__file__).resolve().parent.parent
# Any dotted path from prow through a private segment: prow._cookies, prow.db._model.
PRIVATE = re.compile(r"\bprow(?:\.[A-Za-z_]\w*)*?\._[A-Za-z]\w*")
#: ``from prow.auth import _passwords`` names a private module too.
PRIVATE_FROM = re.compile(r"\bfrom (prow(?:\.[A-Za-z]\w*)*) import \(?\s*(_[A-Za-z]\w*)")

#: (file, private module named there) -> why it is named there for now.
ALLOWED: dict[tuple[str, str], str] = {
    ("tests/cli/test_cli_db.py", "prow.cli._db"): (
        "answers migrate's question as a terminal would (_interactive); a pty-driven run would not"
    ),
}


def _module(name: str) -> str:
    """``prow.auth._passwords._HASHER`` -> ``prow.auth._passwords`` (up to the first private)."""
    parts = name.split(".")
    first = next(index for index, part in enumerate(parts) if part.startswith("_"))
    return ".".join(parts[: first + 1])


def _private_names() -> dict[tuple[str, str], list[int]]:
    files = [
        *sorted((ROOT / "tests").rglob("*.py")),
        *sorted((ROOT / "examples").rglob("*.py")),
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "README.md",
    ]
    found: dict[tuple[str, str], list[int]] = {}
    for path in files:
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8")
        named = [(m.group(), m.start()) for m in PRIVATE.finditer(text)]
        named += [(f"{m[1]}.{m[2]}", m.start()) for m in PRIVATE_FROM.finditer(text)]
        for name, start in named:
            key = (path.relative_to(ROOT).as_posix(), _module(name))
            found.setdefault(key, []).append(text.count("\n", 0, start) + 1)
    return found


def test_tests_docs_and_examples_use_only_public_names() -> None:
    found = _private_names()
    unexpected = {key: lines for key, lines in found.items() if key not in ALLOWED}
    assert not unexpected, f"use a public name (or add the missing public API): {unexpected}"
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"no longer needed, remove from ALLOWED: {stale}"


def test_the_checker_sees_private_names() -> None:
    assert PRIVATE.findall("from prow._types import Scope; import prow.db._model as m") == [
        "prow._types",
        "prow.db._model",
    ]
    assert PRIVATE.findall("from prow.types import Scope; prow.db.Model; prow_x._y") == []
    assert _module("prow.auth._passwords._HASHER") == "prow.auth._passwords"


def test_public_namespaces_list_what_they_export() -> None:
    for module in (prow, prow.exceptions, prow.types):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


def test_every_exception_class_is_public_and_in_the_drawn_tree() -> None:
    """A new exception class in src/ must join prow.exceptions (or be listed as internal)."""
    # caught inside prow
    internal = {"ConversionError", "OneLineUsageError", "_ClientGone", "_FormError"}
    declared = re.compile(
        r"^class (\w+)\((?:[\w.]+, )*[\w.]*(?:Error|Exception|Warning)\b", re.MULTILINE
    )
    found = {
        match.group(1)
        for path in (ROOT / "src" / "prow").rglob("*.py")
        for match in declared.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(found) > 15, "the class scan no longer finds prow's exceptions"
    assert found - internal == set(prow.exceptions.__all__)
    docs = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    tree = prow.exceptions.__doc__ or ""
    for name in prow.exceptions.__all__:
        cls = getattr(prow.exceptions, name)
        assert issubclass(cls, (Exception, Warning)), name
        assert f" {name} " in tree and f" {name} " in docs, f"draw {name} in both trees"


def test_importing_the_public_modules_loads_no_battery() -> None:
    heavy = ("sqlalchemy", "jwt", "argon2", "redis", "itsdangerous", "click", "httpx", "jinja2")
    probe = (
        "import sys, prow, prow.exceptions, prow.types, prow.datastructures, prow.logging; "
        f"print(sorted(set({heavy!r}) & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_battery_exceptions_load_on_first_use() -> None:
    from prow.db import DatabaseUnavailable
    from prow.sessions import SessionTooLarge

    assert prow.exceptions.DatabaseUnavailable is DatabaseUnavailable
    assert prow.exceptions.SessionTooLarge is SessionTooLarge
    assert "DatabaseUnavailable" in dir(prow.exceptions)
    try:
        prow.exceptions.NoSuchError  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchError" in str(exc)
    else:
        raise AssertionError("an unknown name must be an AttributeError")
