"""``prow new`` and ``prow startapp``: the generated project runs, serves and passes its tests.

The generated code runs in child processes: it defines models on ``prow.db.Model`` (one
registry per process), and a fresh interpreter is what its users run. Nothing is installed:
the children use this environment's prow, with the project on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from prow.cli import main

PROJECT_FILES = {
    ".dockerignore",
    ".env",
    ".env.example",
    ".gitignore",
    "Dockerfile",
    "compose.yaml",
    "README.md",
    "conftest.py",
    "pyproject.toml",
    "migrations/env.py",
    "migrations/script.py.mako",
    "tests/test_project.py",
    "{name}/__init__.py",
    "{name}/main.py",
    "{name}/settings.py",
    "{name}/apps/__init__.py",
    "{name}/apps/example/__init__.py",
    "{name}/apps/example/models.py",
    "{name}/apps/example/routes.py",
    "{name}/apps/example/test_example.py",
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error = result.output.strip()
    assert error.startswith("Error: ") and "\n" not in error, error
    for fragment in fragments:
        assert fragment in error, error


def child_env(project: Path) -> dict[str, str]:
    """This environment without PROW_* variables, with the project importable."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    env["PYTHONPATH"] = str(project)
    return env


def run_tests(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=child_env(project),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Result]:
    """A project made by ``prow new``, to which ``prow startapp blog`` added an app."""
    name = f"shop_{uuid.uuid4().hex[:6]}"
    project = tmp_path_factory.mktemp("new") / name
    created = invoke("new", name, "--directory", str(project))
    assert created.exit_code == 0, created.output
    started = invoke("startapp", "blog", "--directory", str(project))
    assert started.exit_code == 0, started.output
    return name, project, started


def test_new_writes_the_project_layout(generated: tuple[str, Path, Result]) -> None:
    name, project, _ = generated
    written = {
        path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file()
    }
    expected = {path.format(name=name) for path in PROJECT_FILES}
    assert expected <= written
    (migration,) = (project / "migrations" / "versions").glob("*_create_notes.py")
    assert "down_revision: str | Sequence[str] | None = None" in migration.read_text()
    settings = (project / name / "settings.py").read_text()
    assert f'apps: list[str] = ["{name}.apps.example"]' in settings
    main_module = (project / name / "main.py").read_text()
    assert "app = create_app(settings, extensions=shared_state(settings))" in main_module
    assert len(main_module.splitlines()) < 15
    assert f'app = "{name}.main:app"' in (project / "pyproject.toml").read_text()
    env = (project / ".env").read_text()
    assert "PROW_DEBUG=true" in env and "PROW_SECRET_KEY=" in env
    assert "PROW_SECRET_KEY=change-me" in (project / ".env.example").read_text()


def test_a_new_project_installs_from_its_vendored_wheel(
    generated: tuple[str, Path, Result], tmp_path: Path
) -> None:
    """A fresh environment with only the wheel (no prow checkout) installs and tests it.

    prow comes from the project's vendor/ wheel, offline; its dependencies (SQLAlchemy, ...)
    come from this environment through a path file, not from the network, to keep it fast.
    """
    _, project, _ = generated
    (wheel,) = (project / "vendor").glob("prow-*-py3-none-any.whl")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    install = subprocess.run(
        [
            sys.executable,  # this environment's pip, installing into the new one
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--find-links",
            str(project / "vendor"),
            "prow",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    here = [path for path in sys.path if path.endswith("site-packages")]
    # After installing: pip would take this checkout's (editable) prow for the wheel.
    (Path(site) / "dependencies.pth").write_text("\n".join(here) + "\n")
    where = subprocess.run(
        [str(python), "-c", "import prow; print(prow.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(site), where  # the wheel's prow, not this checkout's
    env = {key: value for key, value in os.environ.items() if not key.startswith("PROW_")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    version = subprocess.run(
        [str(venv / "bin" / "prow"), "--version"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0 and "0." in version.stdout, version.stdout + version.stderr
    assert wheel.read_bytes() == (
        Path(invoke("wheel", "--out", str(tmp_path / "again")).output.strip()).read_bytes()
    )  # the same files give the same wheel


def test_startapp_adds_an_app_and_says_how_to_list_it(
    generated: tuple[str, Path, Result],
) -> None:
    name, project, started = generated
    app = project / name / "apps" / "blog"
    assert {path.name for path in app.iterdir()} >= {
        "__init__.py",
        "models.py",
        "routes.py",
        "test_blog.py",
    }
    assert 'router = Router(prefix="/blog"' in (app / "routes.py").read_text()
    assert f'    "{name}.apps.blog",' in started.output.splitlines()
    assert f"{name}/settings.py" in started.output


def test_the_project_passes_its_own_tests(generated: tuple[str, Path, Result]) -> None:
    _, project, _ = generated
    result = run_tests(project)
    assert result.returncode == 0, result.stdout + result.stderr
    # the example app's 3, the project's 3 and the new blog app's 1
    assert "7 passed" in result.stdout, result.stdout


def test_the_app_answers_in_process(generated: tuple[str, Path, Result]) -> None:
    name, project, _ = generated
    script = textwrap.dedent(
        f"""
        from prow.db import migrate
        from prow.testing import TestClient
        from {name}.main import app

        migrate(url=app.database_url, directory="migrations")
        with TestClient(app) as client:
            assert client.post("/api/notes", json={{"text": "hello"}}).status_code == 201
            page = client.get("/")
            assert page.status_code == 200 and "<li>hello</li>" in page.text, page.text
            assert client.get("/docs").status_code == 200
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        env={**child_env(project), "PROW_DATABASE_URL": "sqlite:///./inprocess.sqlite3"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(generated: tuple[str, Path, Result]) -> Iterator[str]:
    """The project migrated with ``prow migrate`` and served by ``prow run``."""
    name, project, _ = generated
    env = {
        **child_env(project),
        "PROW_APP": f"{name}.main:app",
        "PROW_DATABASE_URL": "sqlite:///./served.sqlite3",
    }
    prow = [sys.executable, "-m", "prow.cli"]
    migrated = subprocess.run(
        [*prow, "migrate"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "create notes" in migrated.stdout, migrated.stdout + migrated.stderr
    port = free_port()
    server = subprocess.Popen(
        [*prow, "run", "--no-reload", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.communicate(timeout=20)


def test_prow_run_serves_the_project(served: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            home = httpx.get(served + "/", timeout=2)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert home.status_code == 200 and "No notes yet" in home.text
    assert httpx.get(served + "/api/notes", timeout=5).json()["items"] == []
    assert httpx.get(served + "/docs", timeout=5).status_code == 200


# -- --minimal ------------------------------------------------------------------------------


def test_minimal_is_one_file_and_its_test(tmp_path: Path) -> None:
    project = tmp_path / "hello"
    result = invoke("new", "hello", "--minimal", "--directory", str(project))
    assert result.exit_code == 0, result.output
    assert "Created app hello" in result.output
    assert {path.name for path in project.iterdir()} == {
        "app.py",
        "test_app.py",
        "pyproject.toml",
        "README.md",
        ".gitignore",
        "vendor",  # the prow wheel it installs from
    }
    tested = run_tests(project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "3 passed" in tested.stdout


# -- mistakes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("my-shop", "not a valid Python identifier"),
        ("1shop", "not a valid Python identifier"),
        ("class", "Python keyword"),
        ("json", "would shadow"),
        ("prow", "would shadow"),
    ],
)
def test_new_refuses_bad_names(tmp_path: Path, name: str, words: str) -> None:
    assert_one_line_error(invoke("new", name, "--directory", str(tmp_path / "x")), name, words)
    assert not (tmp_path / "x").exists()


def test_new_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = invoke("new", "shop", "--directory", str(tmp_path))
    assert_one_line_error(result, "is not empty", "--directory")
    assert [path.name for path in tmp_path.iterdir()] == ["keep.txt"]


def test_new_refuses_a_file_as_folder(tmp_path: Path) -> None:
    (tmp_path / "shop").write_text("")
    result = invoke("new", "shop", "--directory", str(tmp_path / "shop"))
    assert result.exit_code == 2 and "is a file" in result.output  # click's usage error


def test_new_refuses_a_file_named_like_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shop").write_text("")
    assert_one_line_error(invoke("new", "shop"), "shop exists and is not a folder")


def test_new_fills_an_empty_folder_and_defaults_to_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert invoke("new", "shop", "--minimal", "--directory", "empty").exit_code == 0
    assert (tmp_path / "empty" / "app.py").is_file()
    assert invoke("new", "shop", "--minimal").exit_code == 0
    assert (tmp_path / "shop" / "app.py").is_file()


def test_startapp_outside_a_project(tmp_path: Path) -> None:
    result = invoke("startapp", "blog", "--directory", str(tmp_path))
    assert_one_line_error(result, "no prow project here", "[tool.prow]")


def test_startapp_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("new", "portal", "--directory", str(tmp_path / "portal")).exit_code == 0
    monkeypatch.chdir(tmp_path / "portal" / "portal")  # found from a folder inside the project
    assert invoke("startapp", "news").exit_code == 0
    assert (tmp_path / "portal" / "portal" / "apps" / "news" / "routes.py").is_file()
    assert_one_line_error(invoke("startapp", "news"), "already exists")
    assert_one_line_error(invoke("startapp", "example"), "already exists")
    assert_one_line_error(invoke("startapp", "bad-name"), "not a valid Python identifier")
    assert_one_line_error(invoke("startapp", "import"), "Python keyword")


def test_startapp_reports_an_unreadable_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.prow\n")
    result = invoke("startapp", "blog", "--directory", str(tmp_path))
    assert_one_line_error(result, "cannot read", "pyproject.toml")


@pytest.mark.parametrize("command", ["new", "startapp"])
def test_help_has_examples(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0 and "Examples:" in result.output


def test_commands_find_the_project_app_from_any_subfolder(tmp_path: Path) -> None:
    """No --app and no PROW_APP: [tool.prow] app in pyproject.toml is used."""
    made = subprocess.run(
        [sys.executable, "-m", "prow.cli", "new", "shop", "--directory", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    project = next(p for p in [tmp_path / "shop", tmp_path] if (p / "pyproject.toml").is_file())
    env = {k: v for k, v in os.environ.items() if k != "PROW_APP"}
    for folder in (project, project / "shop"):
        listed = subprocess.run(
            [sys.executable, "-m", "prow.cli", "routes"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert listed.returncode == 0, listed.stderr
        assert "/api/notes" in listed.stdout


def cli(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m prow.cli ARGS`` in ``project``, with ``env`` added to the child's environment."""
    return subprocess.run(
        [sys.executable, "-m", "prow.cli", *args],
        cwd=project,
        env={**child_env(project), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_apps_add_their_commands_to_prow(generated: tuple[str, Path, Result]) -> None:
    name, project, _ = generated
    commands = project / name / "apps" / "example" / "commands.py"
    commands.write_text(
        textwrap.dedent(
            """
            import click

            @click.command()
            @click.option("--count", type=int, default=1, help="How many rows.")
            def seed(count: int) -> None:
                \"\"\"Add example rows.\"\"\"
                click.echo(f"seeded {count}")

            commands = [seed]
            """
        )
    )
    try:
        listed = cli(project, "--help")
        assert listed.returncode == 0, listed.stderr
        assert "seed" in listed.stdout and "Add example rows." in listed.stdout
        ran = cli(project, "seed", "--count", "3")
        assert ran.returncode == 0 and ran.stdout.strip() == "seeded 3", ran.stderr
        wrong = cli(project, "seed", "--bogus")
        assert wrong.returncode == 2
        assert wrong.stderr.strip() == "Error: No such option '--bogus' (see 'prow seed --help')"
    finally:
        commands.unlink()


def test_unknown_command_outside_a_project_is_one_line(tmp_path: Path) -> None:
    result = cli(tmp_path, "zzz")
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: No such command 'zzz' (see 'prow --help')"


def test_unknown_command_when_the_app_fails_to_load_says_why(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import no_such_module_xyz\n")
    result = cli(tmp_path, "seed")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error = result.stderr.strip()
    assert error.startswith("Error: no such command 'seed'") and "\n" not in error
    assert "no_such_module_xyz" in error


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--zzz"], "Error: No such option '--zzz' (see 'prow run --help')"),
        (["--bogus"], "Error: No such option '--bogus' (see 'prow --help')"),
        (
            ["migrate", "a", "b"],
            "Error: Got unexpected extra argument (b) (see 'prow migrate --help')",
        ),
    ],
)
def test_usage_mistakes_are_one_line(args: list[str], expected: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.output.strip() == expected


def test_servers_get_the_project_app_from_a_subfolder(
    generated: tuple[str, Path, Result],
) -> None:
    """`prow run`/`serve` in a subfolder import the declared app from the project root."""
    name, project, _ = generated
    # uvicorn is replaced by a print of what `prow run` would serve, and from where.
    probe = (
        "import os, sys, uvicorn; from prow.cli import main; "
        "uvicorn.run = lambda app, **options: print(app, options['app_dir'], os.getcwd()); "
        f"sys.argv = ['prow', 'run', '--no-reload', '--port', '{free_port()}']; main()"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project / name / "apps",
        env=child_env(project),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    root = str(project.resolve())
    assert found.stdout.splitlines()[-1].split() == [f"{name}.main:app", root, root]


ACCOUNTS = '''
"""Users and browser sessions for the whole project."""

from prow.auth import Auth
from prow.sessions import SessionMiddleware


def setup(app):
    app.add_middleware(SessionMiddleware)
    Auth(app)
'''


SUPERUSER = ["--username", "admin", "--email", "admin@example.com", "--no-input"]


def test_users_through_an_app_setup_recipe(tmp_path: Path) -> None:
    """docs/project-layout.md, "Users, logins and sessions": every step, as a user runs it."""
    project = tmp_path / "shop"
    assert invoke("new", "shop", "--directory", str(project)).exit_code == 0
    assert cli(project, "startapp", "accounts").returncode == 0
    (project / "shop" / "apps" / "accounts" / "__init__.py").write_text(ACCOUNTS)
    settings = project / "shop" / "settings.py"
    listed = settings.read_text().replace(
        '["shop.apps.example"]', '["shop.apps.example", "shop.apps.accounts"]'
    )
    assert listed != settings.read_text()
    settings.write_text(listed)
    for step in (["migrate"], ["makemigrations", "-m", "users"], ["migrate"]):
        done = cli(project, *step)
        assert done.returncode == 0, done.stderr
    password = {"PROW_SUPERUSER_PASSWORD": "a long admin phrase for tests 42"}
    made = cli(project, "createsuperuser", *SUPERUSER, env=password)
    assert made.returncode == 0 and "Superuser 'admin' created." in made.stdout, made.stderr
    tested = run_tests(project)
    assert tested.returncode == 0, tested.stdout[-2000:]


def test_app_given_as_a_file_inside_a_package(generated: tuple[str, Path, Result]) -> None:
    """--app shop/main.py imports shop.main, so `from shop.settings import ...` works."""
    name, project, _ = generated
    listed = cli(project, "routes", "--app", f"{name}/main.py")
    assert listed.returncode == 0, listed.stderr
    assert "/api/notes" in listed.stdout


def test_a_closed_pipe_ends_quietly(generated: tuple[str, Path, Result]) -> None:
    _, project, _ = generated
    # `true` exits without reading: the pipe is closed before prow writes (a user's `| head`).
    shell = f"{sys.executable} -m prow.cli routes | true"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell],
        cwd=project,
        env=child_env(project),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
