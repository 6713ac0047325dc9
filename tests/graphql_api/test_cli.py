"""``prow graphql-schema`` prints the schema clients and code generators read."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from prow.cli import main

APP = """
from prow import App
from prow.graphql import GraphQL

gql = GraphQL(path="/api/graphql")


@gql.query
def answer(question: str = "life") -> int:
    return 42


app = App(extensions=[gql])
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PROW_APP", raising=False)
    yield tmp_path
    for name, loaded in list(sys.modules.items()):
        if Path(getattr(loaded, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


def _app(project: Path, source: str = APP) -> str:
    name = f"gqlproj_{uuid.uuid4().hex[:8]}"
    (project / f"{name}.py").write_text(textwrap.dedent(source))
    return f"{name}:app"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_prints_the_sdl(project: Path) -> None:
    result = invoke("graphql-schema", "--app", _app(project))
    assert result.exit_code == 0, result.output
    assert result.output == 'type Query {\n  answer(question: String! = "life"): Int!\n}\n'


def test_writes_a_file_and_chooses_an_endpoint(project: Path) -> None:
    spec = _app(project)
    result = invoke("graphql-schema", "--app", spec, "--path", "/api/graphql", "-o", "s.graphql")
    assert result.output == "Wrote s.graphql\n"
    assert "answer" in (project / "s.graphql").read_text()
    result = invoke("graphql-schema", "--app", spec, "--path", "/other")
    assert result.exit_code == 1
    assert "Error: the app has no GraphQL endpoint at /other" in result.output


def test_an_app_without_graphql(project: Path) -> None:
    result = invoke("graphql-schema", "--app", _app(project, "from prow import App\napp = App()"))
    assert result.exit_code == 1
    assert "no GraphQL endpoint" in result.output and "Traceback" not in result.output
