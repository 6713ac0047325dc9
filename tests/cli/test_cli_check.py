"""``prow check``: configuration and deployment checks, their ids, fixes and exit status."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from prow.cli import main
from prow.db import Model, makemigrations, migrate

STRONG_KEY = secrets.token_urlsafe(48)
PRODUCTION = {
    "PROW_DEBUG": "false",
    "PROW_SECRET_KEY": STRONG_KEY,
    "PROW_ALLOWED_HOSTS": "example.com,www.example.com",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty folder as the current one, no PROW_* variables; its imports are forgotten."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [name for name in os.environ if name.startswith("PROW_")]:
        monkeypatch.delenv(name)
    yield tmp_path
    for name, loaded in list(sys.modules.items()):
        if Path(getattr(loaded, "__file__", None) or "/").is_relative_to(tmp_path):
            del sys.modules[name]


def module(folder: Path, source: str) -> str:
    """Write a uniquely named module into ``folder`` and return its name."""
    name = f"checked_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return name


PLAIN_APP = "from prow import App\napp = App()\n"


def check(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["check", *args], env=env)


def test_a_production_ready_app_passes(project: Path) -> None:
    result = check("--deploy", "--app", module(project, PLAIN_APP), env=PRODUCTION)
    assert result.exit_code == 0, result.output
    assert result.output == "No problems found.\n"


def test_without_deploy_the_production_settings_are_not_checked(project: Path) -> None:
    result = check("--app", module(project, PLAIN_APP), env={"PROW_DEBUG": "true"})
    assert result.exit_code == 0, result.output
    assert "No problems found. (Add --deploy for production.)" in result.output


@pytest.mark.parametrize(
    ("changes", "problem", "words"),
    [
        ({"PROW_DEBUG": "true"}, "prow.E801", "PROW_DEBUG=false"),
        ({"PROW_SECRET_KEY": ""}, "prow.E802", "no secret key"),
        ({"PROW_SECRET_KEY": "Zq8-x1Lp"}, "prow.E803", "8 characters, fewer than 32"),
        ({"PROW_SECRET_KEY": "change-me-" + "k" * 40}, "prow.E803", "placeholder"),
        ({"PROW_SECRET_KEY": "ab" * 30}, "prow.E803", "only 2 different characters"),
        ({"PROW_ALLOWED_HOSTS": "[]"}, "prow.E804", "no allowed hosts"),
        ({"PROW_ALLOWED_HOSTS": "example.com,*"}, "prow.E805", '"*"'),
    ],
)
def test_each_deploy_problem(
    project: Path, changes: dict[str, str], problem: str, words: str
) -> None:
    env = {**PRODUCTION, **changes}
    result = check("--deploy", "--app", module(project, PLAIN_APP), env=env)
    assert result.exit_code == 1, result.output
    first, fix, summary = result.output.splitlines()
    assert first.startswith(f"{problem} ")
    assert words in result.output
    assert fix.startswith("    Fix: ")
    assert summary == "1 problem found."
    key = env["PROW_SECRET_KEY"]
    assert not key or key not in result.output  # secrets never reach logs


def test_every_problem_is_listed(project: Path) -> None:
    env = {"PROW_DEBUG": "true", "PROW_ALLOWED_HOSTS": "*"}
    result = check("--deploy", "--app", module(project, PLAIN_APP), env=env)
    assert result.exit_code == 1
    ids = [line.split()[0] for line in result.output.splitlines() if line.startswith("prow.")]
    assert ids == ["prow.E801", "prow.E802", "prow.E805"]
    assert result.output.endswith("3 problems found.\n")


def test_the_apps_own_debug_flag_counts(project: Path) -> None:
    name = module(project, "from prow import App\napp = App(debug=True)\n")
    result = check("--deploy", "--app", name, env=PRODUCTION)
    assert result.exit_code == 1 and result.output.startswith("prow.E801")


SETTINGS_APP = """
    from prow.apps import create_app
    from prow.settings import Settings

    class ProjectSettings(Settings):
        session_cookie_secure: bool = False

    app = create_app(ProjectSettings())
"""


def test_the_settings_of_create_app_are_checked(project: Path) -> None:
    result = check("--deploy", "--app", module(project, SETTINGS_APP), env=PRODUCTION)
    assert result.exit_code == 1
    assert result.output.startswith("prow.E806 session_cookie_secure is off")
    assert "PROW_SESSION_COOKIE_SECURE=true" in result.output
    fixed = {**PRODUCTION, "PROW_SESSION_COOKIE_SECURE": "true"}
    assert check("--deploy", "--app", module(project, SETTINGS_APP), env=fixed).exit_code == 0


def test_the_projects_settings_class_is_found_from_a_subfolder(project: Path) -> None:
    package = project / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(PLAIN_APP)
    (package / "settings.py").write_text(
        "from prow.settings import Settings as Base\n\n"
        "class Settings(Base):\n    https_only: bool = False\n"
    )
    (project / "pyproject.toml").write_text(
        '[tool.prow]\npackage = "shop"\napp = "shop.main:app"\n'
        'settings = "shop.settings:Settings"\n'
    )
    (project / "docs").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project / "docs")
        result = check("--deploy", env=PRODUCTION)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("prow.E806 https_only is off")


# -- migrations -------------------------------------------------------------------------------


@pytest.fixture
def models(monkeypatch: pytest.MonkeyPatch) -> sa.MetaData:
    """The project's models, as ``prow check`` sees them (this process has other tests' too)."""
    metadata = sa.MetaData()
    sa.Table("probe", metadata, sa.Column("id", sa.Integer, primary_key=True))
    monkeypatch.setattr(Model, "metadata", metadata)
    return metadata


def write_migration(folder: Path, url: str, message: str = "create probe") -> str:
    """A migration of the models in the folder (made from the models fixture's metadata)."""
    written = makemigrations(message, url=url, directory=folder)
    assert written is not None
    return written.name.split("-")[1].split("_")[0]


def test_pending_migrations_fail_until_migrated(project: Path, models: sa.MetaData) -> None:
    url = f"sqlite:///{project / 'app.sqlite3'}"
    revision = write_migration(project / "migrations", url)
    name = module(project, f"from prow import App\napp = App(database_url={url!r})\n")
    result = check("--app", name)
    assert result.exit_code == 1
    assert result.output.startswith(
        f"prow.E807 1 migration not applied to the database: {revision} (create probe)."
    )
    assert "prow migrate" in result.output
    migrate(url=url, directory=project / "migrations")
    assert check("--app", name).exit_code == 0


def test_models_changed_without_a_migration(project: Path, models: sa.MetaData) -> None:
    url = f"sqlite:///{project / 'app.sqlite3'}"
    write_migration(project / "migrations", url)
    migrate(url=url, directory=project / "migrations")
    name = module(project, f"from prow import App\napp = App(database_url={url!r})\n")
    assert check("--app", name).exit_code == 0
    models.tables["probe"].append_column(sa.Column("title", sa.String(50)))
    sa.Table("note", models, sa.Column("id", sa.Integer, primary_key=True))
    result = check("--app", name)
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("prow.E811 the models changed since the newest migration: ")
    assert "add column probe.title" in first and "add table note" in first
    assert "prow makemigrations" in result.output
    write_migration(project / "migrations", url, "title and notes")
    migrate(url=url, directory=project / "migrations")
    assert check("--app", name).exit_code == 0


def test_a_migrations_folder_elsewhere(project: Path, models: sa.MetaData) -> None:
    url = f"sqlite:///{project / 'app.sqlite3'}"
    write_migration(project / "db" / "migrations", url)
    name = module(project, f"from prow import App\napp = App(database_url={url!r})\n")
    assert check("--app", name).exit_code == 0  # ./migrations does not exist: nothing to check
    result = check("--app", name, "--migrations", "db/migrations")
    assert result.exit_code == 1 and result.output.startswith("prow.E807")


def test_an_unreachable_database(project: Path, models: sa.MetaData) -> None:
    write_migration(project / "migrations", f"sqlite:///{project / 'app.sqlite3'}")
    missing = f"sqlite:///{project / 'no' / 'such' / 'folder' / 'app.sqlite3'}"
    name = module(project, f"from prow import App\napp = App(database_url={missing!r})\n")
    result = check("--app", name)
    assert result.exit_code == 1
    assert result.output.startswith("prow.E808 cannot tell whether the database is migrated")
    assert "no folder" in result.output


# -- mistakes that stop the check -------------------------------------------------------------


def one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error = result.output.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    for fragment in fragments:
        assert fragment in error, error


def test_no_app(project: Path) -> None:
    one_line_error(check("--deploy"), "no app found")


def test_a_wrong_setting(project: Path) -> None:
    result = check("--deploy", "--app", module(project, PLAIN_APP), env={"PROW_DEBUG": "maybe"})
    one_line_error(result, "prow.E601", "PROW_DEBUG")


def test_a_broken_app_module_listed_in_settings(project: Path) -> None:
    source = """
        from prow.apps import create_app
        from prow.settings import Settings

        class ProjectSettings(Settings):
            apps: tuple[str, ...] = ("no_such_app_xyz",)

        app = create_app(ProjectSettings())
    """
    one_line_error(check("--app", module(project, source)), "prow.E701", "no_such_app_xyz")


def test_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["check", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "prow check --deploy" in result.output


def test_an_app_that_cannot_start_fails_the_check(project: Path) -> None:
    source = """
        from prow import App

        app = App()

        @app.get("/n")
        async def n(count: "Intt") -> int:
            return 1
    """
    result = check("--app", module(project, source))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: the app cannot start: prow.E002")
    assert "Intt" in result.output and "\n" not in result.output.strip()


def test_sessions_without_a_secret_key_fail_the_check(project: Path) -> None:
    source = """
        from prow import App
        from prow.middleware import Middleware
        from prow.sessions import SessionMiddleware

        app = App(middleware=[Middleware(SessionMiddleware)])
    """
    result = check("--app", module(project, source))
    assert result.exit_code == 1
    assert "prow.E100" in result.output and "sessions needs a secret key" in result.output


def test_deploy_refuses_the_local_only_default_hosts(project: Path) -> None:
    local = {**PRODUCTION, "PROW_ALLOWED_HOSTS": "localhost,127.0.0.1"}
    result = check("--deploy", "--app", module(project, PLAIN_APP), env=local)
    assert result.exit_code == 1
    assert "prow.E809 allowed hosts name only this machine" in result.output


def test_a_database_server_that_is_down_is_reported(project: Path) -> None:
    down = "postgresql://app@127.0.0.1:1/app"  # nothing listens on port 1
    source = (
        "from prow import App\nfrom prow.db import Database\n"
        f"app = App(extensions=[Database({down!r})])\n"
    )
    result = check("--app", module(project, source))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("prow.E810 the database Database(")
    assert "cannot be reached now" in result.output and "answered 503" in result.output


def test_a_database_that_can_never_work_stops_the_check(project: Path) -> None:
    missing = f"sqlite:///{project / 'no' / 'such' / 'folder' / 'app.sqlite3'}"
    source = (
        "from prow import App\nfrom prow.db import Database\n"
        f"app = App(extensions=[Database({missing!r})])\n"
    )
    one_line_error(check("--app", module(project, source)), "prow.E505", "unable to open")


# -- extras ---------------------------------------------------------------------------------


def test_a_dependency_in_use_that_the_project_does_not_declare(tmp_path: Path) -> None:
    """Checked in a fresh interpreter: this one has imported every battery for other tests."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "main.py").write_text(
        "from prow import App\nfrom prow.db import Database\n"
        "app = App(extensions=[Database('sqlite:///./shop.sqlite3')])\n"
    )

    def check_with(dependencies: str, production: str = "") -> subprocess.CompletedProcess[str]:
        (tmp_path / "pyproject.toml").write_text(
            f'[project]\nname = "shop"\nversion = "1"\ndependencies = [{dependencies}]\n'
            f"[project.optional-dependencies]\nproduction = [{production}]\n"
            '[tool.prow]\npackage = "shop"\napp = "shop.main:app"\n'
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
        return subprocess.run(
            [sys.executable, "-m", "prow.cli", "check"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    missing = check_with('"prow[server]>=0.1"')
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert missing.stdout.startswith("prow.E812 the app uses aiosqlite, sqlalchemy, which ")
    assert "prow's 'db' extra" in missing.stdout and '"prow[db,server]"' in missing.stdout
    declared = check_with('"prow[postgres,server]>=0.1"')  # postgres brings prow[db]
    assert declared.returncode == 0, declared.stdout + declared.stderr
    direct = check_with('"prow", "SQLAlchemy[asyncio]>=2", "aiosqlite"')
    assert direct.returncode == 0, direct.stdout + direct.stderr
    optional = check_with('"prow[server]"', production='"prow[db]"')  # installed where it runs
    assert optional.returncode == 0, optional.stdout + optional.stderr
