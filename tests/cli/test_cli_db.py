"""``prow makemigrations`` / ``migrate`` / ``showmigrations``, and the CLI's app discovery.

Mistakes are driven in-process through click's CliRunner. The full flow runs in a child
process, because it defines models on ``prow.db.Model`` (one registry per process) and
because a real ``python -m prow.cli`` is what users run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from prow import ConfigurationError
from prow.cli import CLICommand, CLIError, CLIGroup, load_app, main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty project folder as the current directory; imports made from it are forgotten."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("PROW_APP", raising=False)
    monkeypatch.delenv("PROW_DATABASE_URL", raising=False)
    for name in ("app", "main"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield tmp_path
    for name, loaded in list(sys.modules.items()):
        if Path(getattr(loaded, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


def module(project: Path, source: str) -> str:
    """Write a uniquely named module into the project and return its name."""
    name = f"proj_{uuid.uuid4().hex[:8]}"
    (project / f"{name}.py").write_text(textwrap.dedent(source))
    return name


APP = "from prow import App\napp = App()\n"


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    error = result.output.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    for fragment in fragments:
        assert fragment in error


# -- app discovery ----------------------------------------------------------------------------


def test_no_app_found(project: Path) -> None:
    result = invoke("showmigrations")
    assert_one_line_error(result, "no app found in", "--app MODULE:ATTR", "PROW_APP", "app.py")


@pytest.mark.parametrize("file_name", ["app.py", "main.py"])
def test_default_app_file(project: Path, file_name: str) -> None:
    (project / file_name).write_text(APP + "app.title = 'found me'\n")
    assert load_app().title == "found me"


def test_app_py_wins_over_main_py(project: Path) -> None:
    (project / "app.py").write_text(APP + "app.title = 'app.py'\n")
    (project / "main.py").write_text(APP + "app.title = 'main.py'\n")
    assert load_app().title == "app.py"


def test_app_option_and_env(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = module(project, APP + "class Holder:\n    api = App(title='nested')\n")
    assert load_app(name).title == "prow"
    assert load_app(f"{name}:Holder.api").title == "nested"
    # The env variable is the option's default: an unknown module named there is reported.
    result = invoke("showmigrations", env={"PROW_APP": "no_such_module_xyz:app"})
    assert_one_line_error(result, "cannot import 'no_such_module_xyz'")


@pytest.mark.parametrize(
    ("spec", "source", "fragments"),
    [
        ("missing_mod_xyz:app", None, ["cannot import 'missing_mod_xyz': no such module"]),
        ("{name}:", APP, ["--app takes MODULE:ATTR (e.g. shop:app)", "path to a .py file"]),
        ("{name}:nope", APP, ["has no attribute 'nope'"]),
        ("{name}:x", "x = 42\n", ["is a int, not a prow App"]),
        ("{name}:app", "import os\napp = undefined_name\n", ["NameError", ".py:2)"]),
        ("{name}:app", "import not_installed_xyz\n", ["ModuleNotFoundError", "not_installed_xyz"]),
        ("{name}:app", "app = (\n", ["SyntaxError"]),
    ],
)
def test_app_mistakes_are_one_line(
    project: Path, spec: str, source: str | None, fragments: list[str]
) -> None:
    name = module(project, source) if source is not None else ""
    result = invoke("migrate", "--app", spec.format(name=name))
    assert_one_line_error(result, *fragments)


def test_app_from_a_file_path(project: Path) -> None:
    (project / "proj").mkdir()
    (project / "proj" / "helpers.py").write_text("TITLE = 'from a file'\n")
    source = "from helpers import TITLE\n" + APP + "app.title = TITLE\napi = App(title='api')\n"
    (project / "proj" / "shop_file.py").write_text(source)
    (project / "work").mkdir()
    assert load_app("proj/shop_file.py").title == "from a file"  # its folder's imports work
    assert load_app("proj/shop_file.py:api").title == "api"
    assert load_app("../proj/shop_file.py", directory=project / "work").title == "from a file"


@pytest.mark.parametrize("spec", ["../proj/shop", ".shop", "proj/shop:app", "a-b:app"])
def test_app_that_is_neither_module_nor_file(project: Path, spec: str) -> None:
    result = invoke("migrate", "--app", spec)
    assert_one_line_error(result, "--app takes MODULE:ATTR (e.g. shop:app) or a path to a .py")


def test_missing_app_file(project: Path) -> None:
    result = invoke("migrate", "--app", "../nowhere/shop.py")
    assert_one_line_error(result, "cannot import 'shop': no such module", "nowhere")


def test_load_app_raises_cli_error(project: Path) -> None:
    with pytest.raises(CLIError, match="no app found"):
        load_app()


# -- database command mistakes ----------------------------------------------------------------


def test_migrate_without_migrations_folder(project: Path) -> None:
    name = module(project, APP)
    result = invoke("migrate", "--app", name, "--database-url", f"sqlite:///{project}/db.sqlite3")
    assert_one_line_error(result, "no migrations folder at migrations", "prow makemigrations")


def _empty_folder(project: Path) -> None:
    (project / "migrations" / "versions").mkdir(parents=True)
    (project / "migrations" / "env.py").write_text("")


def test_unknown_revision(project: Path) -> None:
    _empty_folder(project)
    name = module(project, APP)
    url = f"sqlite:///{project}/db.sqlite3"
    result = invoke("migrate", "nope", "--app", name, "--database-url", url)
    assert_one_line_error(result, "unknown revision 'nope'")


def test_unreachable_database(project: Path) -> None:
    _empty_folder(project)
    name = module(project, APP)
    url = "postgresql://postgres:pw@127.0.0.1:1/test"
    result = invoke("showmigrations", "--app", name, "--database-url", url)
    assert_one_line_error(result, "cannot connect to the database", "127.0.0.1:1")
    assert ":pw@" not in result.output


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("notaurl", ["prow.E501: cannot parse the database URL 'notaurl'"]),
        ("foo://x/y", ["prow.E502: unknown database 'foo'"]),
        ("oracle://x/y", ["oracle database is not supported", "oracledb", "prow[postgres]"]),
        ("postgresql://localhost:1/shop?pool_size=abc", ["refused the URL's options", "pool_size"]),
    ],
)
@pytest.mark.parametrize("command", ["migrate", "showmigrations"])
def test_unusable_database_url(project: Path, url: str, fragments: list[str], command: str) -> None:
    _empty_folder(project)
    name = module(project, APP)
    result = invoke(command, "--app", name, "--database-url", url)
    assert_one_line_error(result, *fragments)


def test_app_with_a_bad_database_url(project: Path) -> None:
    _empty_folder(project)
    name = module(project, APP + "from prow.db import Database\napp.install(Database('x'))\n")
    assert_one_line_error(invoke("migrate", "--app", name), "prow.E501")


def _failing(exc: Exception) -> click.Command:
    def run() -> None:
        raise exc

    return click.Command("boom", callback=run)


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            ConfigurationError("prow.E007", "fix it."),
            "Error: prow.E007: fix it (see docs/errors.md#prow-e007)\n",
        ),
        (PermissionError(13, "Permission denied", "/x/y"), "Error: [Errno 13] Permission denied: "),
    ],
)
def test_group_and_command_report_expected_errors_in_one_line(exc: Exception, line: str) -> None:
    group = CLIGroup("prow", commands=[_failing(exc)])
    result = CliRunner().invoke(group, ["boom"])
    assert (
        result.exit_code == 1
        and result.output.startswith(line)
        and "Traceback" not in result.output
    )
    command = CLICommand("boom", callback=_failing(exc).callback)
    result = CliRunner().invoke(command, [])
    assert result.exit_code == 1 and result.output.startswith(line)


def test_a_bug_still_shows_its_traceback() -> None:
    result = CliRunner().invoke(CLIGroup("prow", commands=[_failing(KeyError("bug"))]), ["boom"])
    assert isinstance(result.exception, KeyError)


@pytest.mark.parametrize(
    ("args", "revision", "app_path", "yes"),
    [
        (["-1"], "-1", None, False),
        (["-1", "--app", "shop:app"], "-1", "shop:app", False),
        (["--app", "shop:app", "-2"], "-2", "shop:app", False),
        (["--", "-1", "--app", "shop:app"], "-1", "shop:app", False),
        (["--app", "shop:app", "--", "-1"], "-1", "shop:app", False),
        (["+1", "--yes"], "+1", None, True),
        (["-y", "3f2a"], "3f2a", None, True),
    ],
)
def test_relative_step_needs_no_dashes(
    args: list[str], revision: str, app_path: str | None, yes: bool
) -> None:
    ctx = main.commands["migrate"].make_context("migrate", args)
    assert (ctx.params["revision"], ctx.params["app_path"], ctx.params["yes"]) == (
        revision,
        app_path,
        yes,
    )


def test_an_option_value_that_looks_like_a_step_stays_its_value() -> None:
    ctx = main.commands["migrate"].make_context("migrate", ["--directory", "-1"])
    assert ctx.params["revision"] == "head" and str(ctx.params["directory"]) == "-1"


def test_empty_folder_lists_nothing(project: Path) -> None:
    _empty_folder(project)
    name = module(project, APP)
    result = invoke("showmigrations", "--app", name, "--database-url", f"sqlite:///{project}/d")
    assert result.exit_code == 0 and result.output == "No migrations in migrations.\n"


def test_makemigrations_needs_a_message(project: Path) -> None:
    result = invoke("makemigrations")
    assert result.exit_code == 2 and "Missing option '-m' / '--message'" in result.output


def test_help_has_examples() -> None:
    for command in ([], ["makemigrations"], ["migrate"], ["showmigrations"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Examples:" in result.output, command
    assert "prow migrate -1" in invoke("migrate", "--help").output


# -- the whole flow in a real process ---------------------------------------------------------

MODELS_V1 = """
    from sqlalchemy import String
    from sqlalchemy.orm import Mapped, mapped_column

    from prow import App
    from prow.db import Database, Model

    app = App()
    app.install(Database("sqlite:///./shop.sqlite3"))

    class Product(Model):
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
"""

FLOW = """
import json, sys
from click.testing import CliRunner
from prow.cli import main

runner = CliRunner()
steps = [
    ["makemigrations", "-m", "create products"],
    ["migrate"],
    ["makemigrations", "-m", "nothing new"],
    ["showmigrations"],
    ["migrate", "zero"],
    ["showmigrations"],
]
print(json.dumps([[r.exit_code, r.output] for r in (runner.invoke(main, s) for s in steps)]))
"""


def test_full_flow_with_the_app_database(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(MODELS_V1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    done = subprocess.run(
        [sys.executable, "-c", FLOW],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    made, applied, unchanged, listed, reverted, listed_after = json.loads(done.stdout)
    assert made[0] == 0 and made[1].startswith("Created migrations/versions/")
    assert made[1].rstrip().endswith("_create_products.py")
    revision = made[1].rsplit("-", 1)[1].split("_", 1)[0]
    assert applied == [0, f"Applied  {revision}  create products\n"]
    assert unchanged == [0, "No changes detected.\n"]
    assert listed == [0, f"[X] {revision}  create products\n"]
    listing = f"Reverting 1 migration(s), newest first:\n  {revision}  create products\n"
    assert reverted == [0, f"{listing}Reverted {revision}  create products\n"]
    assert listed_after == [0, f"[ ] {revision}  create products\n"]
    # The app's own database (its Database extension) was migrated, not the default ./prow.sqlite3.
    assert (tmp_path / "shop.sqlite3").exists() and not (tmp_path / "prow.sqlite3").exists()


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prow.cli", "--version"], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("prow, version ")
    done = subprocess.run(
        [sys.executable, "-m", "prow.cli", "migrate"],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and done.stderr.startswith("Error: no app found")
    assert "Traceback" not in done.stderr


REVERT_FLOW = """
import json
from click.testing import CliRunner
from prow.cli import _db, main

runner = CliRunner()
_db._interactive = lambda: True  # answer the question as a person at a terminal would
steps = [
    (["makemigrations", "-m", "create products"], None),
    (["migrate"], None),
    (["migrate", "2"], None),
    (["migrate", "-5"], None),
    (["migrate", "-1"], "n\\n"),
    (["migrate", "-1"], "y\\n"),
    (["makemigrations", "-m", "behind"], None),
    (["migrate", "--directory", "migrations"], None),
    (["migrate", "--", "-1", "--app", "app:app", "--yes"], None),
]
results = [runner.invoke(main, args, input=answer) for args, answer in steps]
print(json.dumps([[r.exit_code, r.output] for r in results]))
"""


def test_reverting_lists_and_asks(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(MODELS_V1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    done = subprocess.run(
        [sys.executable, "-c", REVERT_FLOW],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    made, applied, short, beyond, refused, reverted, behind, again, old_form = json.loads(
        done.stdout
    )
    revision = made[1].rsplit("-", 1)[1].split("_", 1)[0]
    assert applied[0] == 0
    assert short[0] == 1 and "Error: revision '2' is too short" in short[1]
    assert "prow showmigrations" in short[1] and "Applied" not in short[1]
    assert beyond[0] == 1 and beyond[1].startswith("Error: cannot migrate -5 steps")
    assert "prow showmigrations" in beyond[1]
    listing = f"Reverting 1 migration(s), newest first:\n  {revision}  create products\n"
    assert refused[0] == 1 and refused[1].startswith(listing) and "Aborted" in refused[1]
    assert reverted[0] == 0 and reverted[1].startswith(listing)
    assert reverted[1].endswith(f"Reverted {revision}  create products\n")
    assert behind[0] == 1 and "run `prow migrate` first" in behind[1]
    assert again == [0, f"Applied  {revision}  create products\n"]
    assert old_form == [0, listing + f"Reverted {revision}  create products\n"]


def test_not_interactive_reverts_after_listing(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(MODELS_V1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    prow = [sys.executable, "-m", "prow.cli"]
    for args in (["makemigrations", "-m", "create products"], ["migrate"]):
        subprocess.run([*prow, *args], check=True, cwd=tmp_path, env=env, capture_output=True)
    done = subprocess.run(
        [*prow, "migrate", "zero"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Reverting 1 migration(s), newest first:\n")
    assert done.stdout.rstrip().endswith("create products")


def test_makemigrations_warns_about_not_null_columns(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(textwrap.dedent(MODELS_V1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    prow = [sys.executable, "-m", "prow.cli"]
    subprocess.run(
        [*prow, "makemigrations", "-m", "one"],
        check=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
    )
    subprocess.run([*prow, "migrate"], check=True, cwd=tmp_path, env=env, capture_output=True)
    with (tmp_path / "app.py").open("a") as source:
        source.write("    stock: Mapped[int] = mapped_column(default=0)\n")
        source.write("    code: Mapped[str] = mapped_column(String(9), default=lambda: 'x')\n")
    done = subprocess.run(
        [*prow, "makemigrations", "-m", "two"],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Created migrations/versions/")
    warned = done.stderr.splitlines()
    assert "Warning: the new NOT NULL column product.stock gets server_default='0'" in warned[0]
    assert "Warning: the new NOT NULL column product.code has no server default" in warned[1]
    assert "server_default=" in warned[1] and len(warned) == 2
