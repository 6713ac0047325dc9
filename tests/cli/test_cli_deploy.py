"""What ``prow new`` writes for deployment: a Dockerfile whose steps work, a valid compose.yaml.

No image registry is reachable here, so the Dockerfile is not built: its ``ENV``,
``WORKDIR``, ``COPY`` and ``RUN`` steps are replayed as a script in a fresh virtual
environment (which sees this checkout's installed packages, so that nothing but the build
backend is downloaded), then the installed app is imported as the container would. The
compose file is checked by ``docker compose config`` (or ``docker-compose config``) where
one of them is installed.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from prow.cli import main


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    name = f"shop_{uuid.uuid4().hex[:6]}"
    folder = tmp_path_factory.mktemp("deploy") / name
    result = CliRunner().invoke(main, ["new", name, "--directory", str(folder)])
    assert result.exit_code == 0, result.output
    return name, folder


def dockerfile_steps(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Dockerfile, continuation lines joined."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        instruction, _, arguments = (pending + line).strip().partition(" ")
        steps.append((instruction.upper(), arguments.strip()))
        pending = ""
    return steps


def test_new_writes_dockerfile_compose_and_dockerignore(project: tuple[str, Path]) -> None:
    name, folder = project
    steps = dict(dockerfile_steps((folder / "Dockerfile").read_text()))
    assert steps["FROM"].startswith("python:3.")
    assert steps["USER"] != "root"
    assert "prow" in steps["CMD"] and "serve" in steps["CMD"]
    assert "/healthz" in steps["HEALTHCHECK"]
    compose = (folder / "compose.yaml").read_text()
    for service in ("app:", "migrate:", "worker:", "db:", "redis:"):
        assert f"\n  {service}" in compose
    assert f"postgresql+asyncpg://{name}:{name}@db:5432/{name}" in compose
    assert ".env" in (folder / ".dockerignore").read_text().split()


def test_the_dockerfile_steps_succeed_as_a_script_in_a_fresh_venv(
    project: tuple[str, Path], tmp_path: Path
) -> None:
    name, folder = project
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The fresh environment sees this one's packages (prow, its drivers): no mirror needed
    # for them, and the test stays fast. pip still resolves every requirement.
    fresh_site = next((venv / "lib").glob("python3*/site-packages"))
    checkout_site = sysconfig.get_paths()["purelib"]  # addsitedir: its editable .pth work too
    (fresh_site / "_checkout.pth").write_text(f"import site; site.addsitedir({checkout_site!r})\n")

    workdir = tmp_path / "image"
    env = {"PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST"):
        if key in os.environ:
            env[key] = os.environ[key]
    script = ["set -eu"]
    for instruction, arguments in dockerfile_steps((folder / "Dockerfile").read_text()):
        if instruction == "ENV":
            script.extend(f"export {shlex.quote(pair)}" for pair in shlex.split(arguments))
        elif instruction == "WORKDIR":
            workdir = tmp_path / "image" / arguments.lstrip("/")
            script.append(f"mkdir -p {shlex.quote(str(workdir))} && cd {shlex.quote(str(workdir))}")
        elif instruction == "COPY":
            *sources, target = shlex.split(arguments)
            for source in sources:
                copied = shlex.quote(str(folder / source))
                script.append(f"cp -r {copied} {shlex.quote(target)}")
        elif instruction == "RUN":
            script.append(arguments)
    result = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    # The installed app, as the container starts it, with the compose file's settings.
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"from {name}.main import app; from prow.channels import Channels; "
            "app.build(); print(type(app.extension(Channels).backend).__name__)",
        ],
        cwd=tmp_path,  # not the project: the installed package is what runs
        env={
            **env,
            "PROW_ENV": "production",
            "PROW_SECRET_KEY": secrets.token_urlsafe(48),
            "PROW_REDIS_URL": "redis://127.0.0.1:6379/0",
            "PROW_DATABASE_URL": "sqlite:///./x.sqlite3",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert check.returncode == 0, check.stderr[-3000:]
    assert check.stdout.strip() == "RedisChannelBackend"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_accepts_the_compose_file(project: tuple[str, Path], tmp_path: Path) -> None:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    assert command is not None
    _name, folder = project
    env = {**os.environ, "PROW_SECRET_KEY": secrets.token_urlsafe(48)}
    result = subprocess.run(
        [*command, "config", "--services"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"app", "migrate", "worker", "db", "redis"}
    # Without a secret key (here, nor in a .env beside the file), compose refuses to start.
    alone = tmp_path / "compose.yaml"
    shutil.copy(folder / "compose.yaml", alone)
    env.pop("PROW_SECRET_KEY")
    refused = subprocess.run(
        [*command, "config"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "PROW_SECRET_KEY" in refused.stderr
