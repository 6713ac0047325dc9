"""The registry of ``prow.E...`` codes: each code raised is registered once and documented once.

The registry (``src/prow/_codes.py``) is read as text, as the rest of the source is: a code
written twice there must be seen, not merged away by a dict.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from prow import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "prow"
DOCS = ROOT / "docs"
CODE = re.compile(r"\bprow\.E\d{3}\b")
ENTRY = re.compile(r"""^\s*ErrorCode\("([^"]+)", (?:"([^"]*)"|'([^']*)')\),$""", re.MULTILINE)
REGISTRY_TEXT = (SOURCE / "_codes.py").read_text(encoding="utf-8")
REGISTRY = [(code, double or single) for code, double, single in ENTRY.findall(REGISTRY_TEXT)]
CODES = {code for code, _summary in REGISTRY}
# The one place a code is defined in the docs: a table row starting with its anchor.
DEFINITION = re.compile(r'^\|\s*<a id="(prow-e\d{3})"></a>`(prow\.E\d{3})`\s*\|', re.MULTILINE)
# A table row starting with a code, anchored or not: documenting the code (again).
TABLE_ROW = re.compile(r"^\|\s*(?:<a id=\"[^\"]*\"></a>)?`(prow\.E\d{3})`", re.MULTILINE)
ANCHOR = re.compile(r'<a id="(prow-e\d{3})">')
LINK = re.compile(r"errors\.md#(prow-e\d{3})\b")


def _codes_in_source() -> dict[str, list[str]]:
    """Every code named in prow's source (outside the registry), with where."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*.py")):
        if path.name == "_codes.py":
            continue
        text = path.read_text(encoding="utf-8")
        for match in CODE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(match.group(), []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def _docs() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md"))}


def _anchor(code: str) -> str:
    """The anchor a ``ConfigurationError`` of ``code`` links to."""
    docs = ConfigurationError(code, "x").docs
    assert docs is not None and docs.startswith("docs/errors.md#"), (code, docs)
    return docs.partition("#")[2]


def test_each_code_is_registered_once_in_order() -> None:
    names = [code for code, _summary in REGISTRY]
    assert len(names) == REGISTRY_TEXT.count('ErrorCode("'), "write each entry on one line"
    twice = sorted(code for code, count in Counter(names).items() if count > 1)
    assert not twice, f"registered twice in src/prow/_codes.py: {twice}"
    assert names == sorted(names), "keep src/prow/_codes.py in number order"
    assert all(CODE.fullmatch(code) for code in names)
    assert all(summary and not summary.endswith(".") for _code, summary in REGISTRY)


def test_every_code_in_the_source_is_registered() -> None:
    unregistered = {code: where for code, where in _codes_in_source().items() if code not in CODES}
    assert not unregistered, f"add these to src/prow/_codes.py and docs/errors.md: {unregistered}"


def test_every_registered_code_is_still_used() -> None:
    unused = sorted(set(CODES) - set(_codes_in_source()))
    assert not unused, f"no code in src/ uses {unused}: retire them from the registry and docs"


def test_every_code_is_documented_once_on_the_errors_page() -> None:
    rows: Counter[str] = Counter()
    defined: dict[str, str] = {}
    for name, text in _docs().items():
        rows.update(TABLE_ROW.findall(text))
        for anchor, code in DEFINITION.findall(text):
            assert code not in CODES or anchor == _anchor(code), (name, code, anchor)
            defined[code] = name
    twice = sorted(code for code, count in rows.items() if count > 1)
    assert not twice, f"documented in more than one table row (keep docs/errors.md's): {twice}"
    missing = sorted(set(CODES) - set(defined))
    assert not missing, f"registered but not documented in docs/errors.md: {missing}"
    elsewhere = sorted(code for code, page in defined.items() if page != "errors.md")
    assert not elsewhere, f"defined outside docs/errors.md: {elsewhere}"


def test_docs_name_only_registered_codes_and_existing_anchors() -> None:
    docs = _docs()
    anchors = Counter(anchor for text in docs.values() for anchor in ANCHOR.findall(text))
    assert all(count == 1 for count in anchors.values()), anchors.most_common(3)
    for name, text in docs.items():
        unknown = sorted(set(CODE.findall(text)) - set(CODES))
        assert not unknown, f"{name} names codes prow does not have: {unknown}"
        broken = sorted(set(LINK.findall(text)) - set(anchors))
        assert not broken, f"{name} links to anchors docs/errors.md lacks: {broken}"


def test_the_error_points_at_its_explanation() -> None:
    error = ConfigurationError("prow.E404", "StaticFiles needs a directory, packages, or both.")
    assert error.code == "prow.E404"
    assert error.message == "StaticFiles needs a directory, packages, or both."
    assert error.docs == "docs/errors.md#prow-e404"
    assert str(error) == (
        "prow.E404: StaticFiles needs a directory, packages, or both (see docs/errors.md#prow-e404)"
    )


def test_a_multi_line_error_has_the_link_on_its_first_line() -> None:
    error = ConfigurationError("prow.E601", "invalid settings\n  PROW_DEBUG: not a boolean")
    assert str(error).splitlines() == [
        "prow.E601: invalid settings (see docs/errors.md#prow-e601)",
        "  PROW_DEBUG: not a boolean",
    ]


def test_an_unregistered_prow_code_is_refused_and_other_namespaces_are_free() -> None:
    with pytest.raises(AssertionError, match=r"unregistered code prow\.E999"):
        ConfigurationError("prow.E999", "a check someone forgot to register")
    third_party = ConfigurationError("shopext.E001", "the shop extension needs a currency")
    assert third_party.docs is None
    assert str(third_party) == "shopext.E001: the shop extension needs a currency"
