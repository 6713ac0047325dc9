"""``prow routes``, ``prow openapi`` and ``prow shell``, driven through click's CliRunner.

The one test that defines ``prow.db`` models runs the CLI in a child process, as the
models' registry is shared by the whole process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openapi_spec_validator import validate

from prow.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project folder as the current directory; imports made from it are forgotten."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PROW_APP", raising=False)
    for name in ("app", "main"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield tmp_path
    for name, loaded in list(sys.modules.items()):
        if Path(getattr(loaded, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


def write_app(project: Path, source: str) -> str:
    """Write a uniquely named module defining ``app`` and return ``module:app``."""
    name = f"proj_{uuid.uuid4().hex[:8]}"
    (project / f"{name}.py").write_text(textwrap.dedent(source))
    return f"{name}:app"


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    error = result.output.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    for fragment in fragments:
        assert fragment in error


ITEMS_APP = """
    from pydantic import BaseModel

    from prow import App, WebSocket
    from prow.staticfiles import StaticFiles

    app = App(title="Shop", version="2.1.0")

    class Item(BaseModel):
        name: str
        price: float

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> Item:
        return Item(name="x", price=1.0)

    @app.route("/items", methods=["DELETE", "POST", "GET"], name="items")
    def items(item: Item) -> Item:
        return item

    class Views:
        @staticmethod
        async def health() -> dict[str, str]:
            return {"status": "ok"}

    app.add_route("/health", Views.health)

    @app.websocket("/feed")
    async def feed(websocket: WebSocket) -> None:
        await websocket.accept()

    app.mount("/static", StaticFiles(directory="."))
"""


# -- prow routes -------------------------------------------------------------------------------


def table(output: str) -> dict[str, list[str]]:
    """The routes table as {path: [methods, path, name, handler]} (cells hold no spaces)."""
    lines = output.splitlines()
    assert lines[0].split() == ["METHODS", "PATH", "NAME", "HANDLER"]
    return {row.split()[1]: row.split() for row in lines[1:]}


def test_routes_table(project: Path) -> None:
    spec = write_app(project, ITEMS_APP)
    module = spec.partition(":")[0]
    result = invoke("routes", "--app", spec)
    assert result.exit_code == 0, result.output
    rows = table(result.output)
    assert rows["/items/{item_id}"] == [
        "GET",
        "/items/{item_id}",
        "read_item",
        f"{module}.read_item",
    ]
    # Methods in their usual reading order, not in the order they were given.
    assert rows["/items"] == ["GET,POST,DELETE", "/items", "items", f"{module}.items"]
    assert rows["/health"] == ["GET", "/health", "health", f"{module}.Views.health"]
    assert rows["/feed"] == ["WS", "/feed", "feed", f"{module}.feed"]
    assert rows["/static"] == ["MOUNT", "/static", "-", "prow.staticfiles.StaticFiles"]
    # prow's own handlers are named by the public package that adds them.
    assert rows["/openapi.json"] == ["GET", "/openapi.json", "openapi", "prow.openapi"]
    assert rows["/readyz"] == ["GET", "/readyz", "readyz", "prow"]
    # Rows come in matching order: the app's routes first, then the docs routes.
    assert list(rows)[:5] == ["/items/{item_id}", "/items", "/health", "/feed", "/static"]


def test_routes_columns_line_up(project: Path) -> None:
    result = invoke("routes", "--app", write_app(project, ITEMS_APP))
    lines = result.output.splitlines()
    start = lines[0].index("PATH")
    assert all(line[start - 2 : start] == "  " and line[start] == "/" for line in lines[1:])


def test_routes_of_an_empty_app(project: Path) -> None:
    spec = write_app(
        project,
        "from prow import App\napp = App(openapi_url=None, health_url=None, ready_url=None)\n",
    )
    result = invoke("routes", "--app", spec)
    assert result.exit_code == 0
    assert result.output == "No routes.\n"


def test_routes_configuration_error_is_one_line(project: Path) -> None:
    spec = write_app(
        project,
        """
        from prow import App
        app = App()

        @app.get("/x")
        def one() -> None: ...

        @app.get("/x")
        def two() -> None: ...
        """,
    )
    assert_one_line_error(invoke("routes", "--app", spec), "prow.E007", "GET /x")


def test_routes_without_an_app(project: Path) -> None:
    assert_one_line_error(invoke("routes"), "no app found in")


def test_routes_finds_app_py(project: Path) -> None:
    (project / "app.py").write_text("from prow import App\napp = App()\n")
    result = invoke("routes")
    assert result.exit_code == 0
    assert "/docs" in table(result.output)


# -- prow openapi ------------------------------------------------------------------------------


def test_openapi_json_is_a_valid_document(project: Path) -> None:
    result = invoke("openapi", "--app", write_app(project, ITEMS_APP))
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    validate(document)
    assert document["info"] == {"title": "Shop", "version": "2.1.0"}
    assert set(document["paths"]) == {"/items/{item_id}", "/items", "/health"}
    assert result.output.startswith('{\n  "openapi"')  # indented for reading and diffs


def test_openapi_yaml(project: Path) -> None:
    yaml = pytest.importorskip("yaml")
    spec = write_app(project, ITEMS_APP)
    as_json = json.loads(invoke("openapi", "--app", spec).output)
    result = invoke("openapi", "--app", spec, "--format", "yaml")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("openapi: 3.1.0\n")  # key order kept
    assert yaml.safe_load(result.output) == as_json


def test_openapi_output_file(project: Path) -> None:
    spec = write_app(project, ITEMS_APP)
    result = invoke("openapi", "--app", spec, "--output", "api.json")
    assert result.exit_code == 0, result.output
    assert result.output == "Wrote api.json\n"
    validate(json.loads((project / "api.json").read_text()))


@pytest.mark.parametrize("name", ["api.yaml", "api.yml"])
def test_openapi_output_suffix_chooses_yaml(project: Path, name: str) -> None:
    yaml = pytest.importorskip("yaml")
    result = invoke("openapi", "--app", write_app(project, ITEMS_APP), "-o", name)
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((project / name).read_text())["info"]["title"] == "Shop"


def test_openapi_format_wins_over_suffix(project: Path) -> None:
    invoke("openapi", "--app", write_app(project, ITEMS_APP), "-o", "api.yaml", "--format", "json")
    assert json.loads((project / "api.yaml").read_text())["openapi"] == "3.1.0"


def test_openapi_unwritable_output(project: Path) -> None:
    result = invoke("openapi", "--app", write_app(project, ITEMS_APP), "-o", "missing/api.json")
    assert_one_line_error(result, "cannot write missing/api.json", "No such file or directory")


def test_openapi_unknown_format(project: Path) -> None:
    result = invoke("openapi", "--app", write_app(project, ITEMS_APP), "--format", "xml")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip() == (
        "Error: Invalid value for '--format': 'xml' is not one of 'json', 'yaml' "
        "(see 'prow openapi --help')"
    )


def test_openapi_yaml_without_pyyaml(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` fail
    result = invoke("openapi", "--app", write_app(project, ITEMS_APP), "--format", "yaml")
    assert_one_line_error(result, "PyYAML", "pip install pyyaml")


def test_openapi_without_an_app(project: Path) -> None:
    assert_one_line_error(invoke("openapi", "--app", "nowhere:app"), "cannot import 'nowhere'")


# -- prow shell --------------------------------------------------------------------------------


@pytest.fixture
def no_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "IPython", None)


def test_shell_runs_typed_code(project: Path, no_ipython: None) -> None:
    spec = write_app(project, ITEMS_APP)
    result = invoke("shell", "--app", spec, input="print(app.title)\n")
    assert result.exit_code == 0, result.output
    assert "prow shell: Shop 2.1.0" in result.output
    # Models other tests registered in this process may be listed too; the app must be.
    assert _loaded(result.output)[-1:] == ["app"]
    assert ">>> Shop\n" in result.output


def test_shell_top_level_await_and_run(project: Path, no_ipython: None) -> None:
    spec = write_app(project, "from prow import App\napp = App()\n")
    typed = (
        "import asyncio\n"
        "await asyncio.sleep(0, result=6 * 7)\n"
        "value = await asyncio.sleep(0, result=asyncio.get_running_loop() is loop)\n"
        "print('same loop:', value)\n"
        "run(asyncio.sleep(0, result='from run'))\n"
    )
    result = invoke("shell", "--app", spec, input=typed)
    assert result.exit_code == 0, result.output
    assert "42\n" in result.output
    assert "same loop: True\n" in result.output
    assert "'from run'\n" in result.output


def test_shell_survives_errors(project: Path, no_ipython: None) -> None:
    spec = write_app(project, "from prow import App\napp = App()\n")
    result = invoke("shell", "--app", spec, input="1 / 0\nprint('still here')\n")
    assert result.exit_code == 0, result.output
    assert "ZeroDivisionError: division by zero" in result.output
    assert "still here" in result.output


def test_shell_offers_settings(project: Path, no_ipython: None) -> None:
    spec = write_app(
        project,
        """
        from types import SimpleNamespace
        from prow import App
        app = App()
        app.settings = SimpleNamespace(debug=True)
        """,
    )
    result = invoke("shell", "--app", spec, input="print('debug is', settings.debug)\n")
    assert _loaded(result.output)[-2:] == ["app", "settings"]
    assert "debug is True" in result.output


def test_shell_offers_settings_from_state(project: Path, no_ipython: None) -> None:
    spec = write_app(project, "from prow import App\napp = App()\napp.state.settings = 'S'\n")
    result = invoke("shell", "--app", spec, input="print(settings)\n")
    assert ">>> S\n" in result.output


def test_shell_without_an_app(project: Path) -> None:
    assert_one_line_error(invoke("shell"), "no app found in")


def fake_ipython(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-ins for IPython and traitlets that record how the shell is started."""
    calls: dict[str, Any] = {}

    class Config:
        def __getattr__(self, section: str) -> types.SimpleNamespace:
            value = types.SimpleNamespace()
            setattr(self, section, value)
            return value

    def start_ipython(**kwargs: Any) -> None:
        calls.update(kwargs)
        config = kwargs["config"]
        # What IPython does with `await` at its prompt: hand the coroutine to the runner.
        namespace = kwargs["user_ns"]
        calls["awaited"] = config.InteractiveShell.loop_runner(_running_loop_is(namespace))

    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(start_ipython=start_ipython))
    monkeypatch.setitem(sys.modules, "traitlets.config", types.SimpleNamespace(Config=Config))
    return calls


async def _running_loop_is(namespace: dict[str, Any]) -> bool:
    import asyncio

    return asyncio.get_running_loop() is namespace["loop"]


def test_shell_prefers_ipython(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_ipython(monkeypatch)
    result = invoke("shell", "--app", write_app(project, ITEMS_APP))
    assert result.exit_code == 0, result.output
    assert calls["argv"] == []
    assert calls["user_ns"]["app"].title == "Shop"
    config = calls["config"]
    assert config.InteractiveShell.autoawait is True
    assert config.TerminalInteractiveShell.banner2.startswith("prow shell: Shop")
    assert calls["awaited"] is True  # IPython's `await` runs on the shell's own loop


def test_shell_plain_skips_ipython(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_ipython(monkeypatch)
    result = invoke("shell", "--plain", "--app", write_app(project, ITEMS_APP), input="app\n")
    assert result.exit_code == 0, result.output
    assert calls == {}
    assert ">>> <prow." in result.output and ".App object at " in result.output


def test_shell_offers_models(tmp_path: Path) -> None:
    """prow.db models are in the namespace by class name (in a child process: one registry)."""
    pytest.importorskip("sqlalchemy")
    suffix = uuid.uuid4().hex[:8]
    (tmp_path / "app.py").write_text(
        textwrap.dedent(
            f"""
            from sqlalchemy.orm import Mapped, mapped_column
            from prow import App
            from prow.db import Model

            class Author{suffix}(Model):
                id: Mapped[int] = mapped_column(primary_key=True)

            app = App()
            """
        )
    )
    completed = subprocess.run(
        [sys.executable, "-m", "prow.cli", "shell", "--plain"],
        input=f"print(Author{suffix}.__tablename__)\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert f"Loaded: Author{suffix}, app\n" in completed.stderr  # the banner goes to stderr
    assert f"author{suffix}" in completed.stdout


def test_shell_without_prow_db_does_not_load_it(project: Path, no_ipython: None) -> None:
    code = "import sys\nprint('sqlalchemy' in sys.modules, 'prow.db' in sys.modules)\n"
    (project / "app.py").write_text("from prow import App\napp = App()\n")
    completed = subprocess.run(
        [sys.executable, "-m", "prow.cli", "shell", "--plain"],
        input=code,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "False False" in completed.stdout


def _loaded(output: str) -> list[str]:
    """The names on the shell banner's ``Loaded:`` line."""
    line = next(line for line in output.splitlines() if line.startswith("Loaded: "))
    return line.removeprefix("Loaded: ").split(", ")
