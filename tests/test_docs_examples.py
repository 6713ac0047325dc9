"""Every complete Python example in ``docs/`` runs as a test.

A fenced ```` ```python ```` block is executed as its own module, so the assertions the
example makes (usually through ``TestClient``) prove the behaviour the page describes. A
block that is only a fragment is marked by an HTML comment on the line just above its
fence (blank lines allowed in between)::

    <!-- no-test: why this block cannot run on its own -->

The test id is ``page.md:LINE`` (the fence's line), and tracebacks point into the
Markdown file at the failing line.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*no-test\b.*-->\s*$")


@dataclasses.dataclass(frozen=True)
class Example:
    """One runnable block: where it is and its source."""

    path: Path
    line: int  # 1-based line of the opening fence
    source: str

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"


def _previous_text(lines: list[str], index: int) -> str:
    for back in range(index - 1, -1, -1):
        if lines[back].strip():
            return lines[back].strip()
    return ""


def extract(path: Path) -> list[Example]:
    """The runnable ``python`` blocks of one Markdown file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{index + 1}: code fence is never closed")
        runnable = opening.group(1) == "python" and not SKIP.match(_previous_text(lines, index))
        if runnable:
            found.append(Example(path, index + 1, "\n".join(lines[index + 1 : end]) + "\n"))
        index = end + 1
    return found


def all_examples() -> list[Example]:
    return [example for page in sorted(DOCS.glob("*.md")) for example in extract(page)]


EXAMPLES = all_examples()


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) > 20, "the docs folder lost its runnable examples"


def run(example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute one example as its own module, inside ``tmp_path``."""
    # A real module in sys.modules: pydantic and typing.get_type_hints look names up
    # through ``sys.modules[cls.__module__]``, which ``from __future__ import annotations``
    # makes necessary.
    name = "docs_example_" + re.sub(r"\W", "_", example.id)
    module = types.ModuleType(name)
    module.__file__ = str(tmp_path / "example.py")
    monkeypatch.setitem(sys.modules, name, module)
    # Examples may write files (static folders, uploads); keep them in a temporary folder.
    monkeypatch.chdir(tmp_path)
    # Blank lines in front keep line numbers equal to the Markdown file's.
    source = "\n" * example.line + example.source
    code = compile(source, str(example.path), "exec", dont_inherit=True)
    exec(code, module.__dict__)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs(example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(example, tmp_path, monkeypatch)


def test_examples_may_use_postponed_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from __future__ import annotations\n"
        "from pydantic import BaseModel\n"
        "from prow import App\n"
        "from prow.testing import TestClient\n"
        "class Item(BaseModel):\n"
        "    name: str\n"
        "app = App()\n"
        "@app.post('/items')\n"
        "async def create(item: Item) -> Item:\n"
        "    return item\n"
        "assert TestClient(app).post('/items', json={'name': 'a'}).json() == {'name': 'a'}\n"
    )
    run(Example(tmp_path / "page.md", 1, source), tmp_path, monkeypatch)


def test_failures_point_at_the_markdown_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Example(tmp_path / "page.md", 10, "x = 1\nassert x == 2\n")
    with pytest.raises(AssertionError) as info:
        run(example, tmp_path, monkeypatch)
    assert info.traceback[-1].lineno + 1 == 12  # the fence is line 10, the assert line 12


def test_extract_honours_the_skip_marker(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```python\nx = 1\n```\n\n<!-- no-test: fragment -->\n\n```python\nbroken(\n```\n"
        "```bash\nls\n```\n",
        encoding="utf-8",
    )
    examples = extract(page)
    assert [(e.line, e.source) for e in examples] == [(3, "x = 1\n")]
