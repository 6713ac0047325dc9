"""Scaffolding commands: ``prow new`` (a project, or one file) and ``prow startapp`` (an app).

The files come from ``prow/cli/_templates`` (see its docstring for the placeholders). A
project records itself in its ``pyproject.toml`` under ``[tool.prow]`` (package, app,
settings), which is how ``startapp`` and ``check`` find it from any folder inside it.
"""

from __future__ import annotations

import datetime
import keyword
import secrets
import sys
import tomllib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from string import Template

import click

from prow import __version__
from prow.cli._errors import CLIError
from prow.cli._wheel import build_wheel

__all__ = ["Project", "find_project", "new", "render", "startapp"]

#: Names that would shadow a package every project imports, or a folder of the layout.
_RESERVED = frozenset({"prow", "app", "apps", "main", "migrations", "settings", "test", "tests"})
#: Placeholders in template paths, and the value each stands for.
_PATH_PLACEHOLDERS = (("__name__", "name"), ("__app__", "app"), ("__migration__", "migration"))


@dataclass(frozen=True)
class Project:
    """A prow project: its folder and its ``[tool.prow]`` table."""

    root: Path
    package: str
    app: str | None
    settings: str | None


def find_project(start: Path | None = None) -> Project | None:
    """The project whose ``pyproject.toml`` has ``[tool.prow]``, in ``start`` or a parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        path = folder / "pyproject.toml"
        if not path.is_file():
            continue
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("prow")
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CLIError(f"cannot read {path}: {exc}") from None
        if isinstance(table, dict) and isinstance(table.get("package"), str):
            return Project(folder, table["package"], table.get("app"), table.get("settings"))
    return None


def render(kind: str, values: Mapping[str, str]) -> dict[PurePosixPath, str]:
    """Every file of the template set ``kind``: its relative path and its rendered text."""
    root = resources.files("prow.cli._templates") / kind
    rendered: dict[PurePosixPath, str] = {}
    for source, parts in _walk(root, ()):
        target = PurePosixPath(*(_path_part(part, values) for part in parts))
        rendered[target] = Template(source.read_text(encoding="utf-8")).substitute(values)
    return rendered


def _walk(
    folder: Traversable, parts: tuple[str, ...]
) -> Iterator[tuple[Traversable, tuple[str, ...]]]:
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.is_dir():
            yield from _walk(entry, (*parts, entry.name))
        elif entry.name.endswith(".tmpl"):
            yield entry, (*parts, entry.name)


def _path_part(part: str, values: Mapping[str, str]) -> str:
    part = part.removesuffix(".tmpl")
    if part.startswith("dot-"):
        part = "." + part.removeprefix("dot-")
    for placeholder, key in _PATH_PLACEHOLDERS:
        if placeholder in part:
            part = part.replace(placeholder, values[key])
    return part


def check_name(name: str, what: str, *, top_level: bool = True) -> None:
    """Refuse a ``name`` that cannot be a Python package, in one line saying why.

    A ``top_level`` name (a project's package) must also not shadow a module it would hide.
    """
    if not name.isidentifier():
        raise CLIError(
            f"{what} name {name!r} is not a valid Python identifier: use letters, digits and "
            "underscores, not starting with a digit (e.g. my_project)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise CLIError(f"{what} name {name!r} is a Python keyword; choose another name")
    if top_level and (name in sys.stdlib_module_names or name in _RESERVED):
        raise CLIError(
            f"{what} name {name!r} would shadow the module of the same name; choose another name"
        )


def _write(root: Path, files: Mapping[PurePosixPath, str]) -> None:
    for relative, text in files.items():
        path = root.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _check_target(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise CLIError(f"{directory} exists and is not a folder; choose another --directory")
    if directory.is_dir() and any(directory.iterdir()):
        raise CLIError(
            f"{directory} exists and is not empty; choose another --directory or remove it"
        )


@click.command()
@click.argument("name")
@click.option("--minimal", is_flag=True, help="A single-file app.py and its test, nothing else.")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create it [default: ./NAME]; must be empty or not exist.",
)
def new(name: str, minimal: bool, directory: Path | None) -> None:
    """Create a project NAME that runs and passes its own tests straight away.

    A project has settings, an example app (a model, its API, an HTML page, tests), a
    migration, .env.example and a README. --minimal gives one app.py file and its test.

    \b
    Examples:
      prow new shop                  # ./shop: a project with apps, settings and migrations
      prow new shop --directory src  # the same, in ./src
      prow new hello --minimal       # ./hello/app.py and ./hello/test_app.py
    """
    check_name(name, "project")
    target = directory if directory is not None else Path(name)
    _check_target(target)
    values = {"name": name, "prow_version": __version__}
    files = render("minimal", values) if minimal else _project_files(values)
    _write(target, files)
    # prow is not on a package index yet: the project carries the wheel it installs from.
    build_wheel(target / "vendor")
    click.echo(f"Created {'app' if minimal else 'project'} {name} in {target}")
    click.echo("Next:")
    click.echo(f"  cd {target}")
    extras = "" if minimal else ' -e ".[dev]"'
    packages = ' "prow[server,testing]" pytest' if minimal else ""
    click.echo("  python3 -m venv .venv && . .venv/bin/activate   # an environment of its own")
    click.echo(f"  pip install --find-links vendor{extras}{packages}   # prow from vendor/")
    if not minimal:
        click.echo("  prow migrate")
    click.echo("  prow run      # then open http://127.0.0.1:8000/docs")
    click.echo("  pytest")


def _project_files(values: dict[str, str]) -> dict[PurePosixPath, str]:
    """The full project, including its migrations folder and its first migration."""
    try:
        from prow.db._migration_templates import ENV_PY, SCRIPT_PY_MAKO
    except ModuleNotFoundError as exc:
        raise CLIError(
            f"a project needs the db extra ({exc.name} is missing): pip install 'prow[db]', "
            "or use --minimal"
        ) from None
    now = datetime.datetime.now()
    revision = uuid.uuid4().hex[-12:]
    files = render(
        "project",
        {
            **values,
            # Named as `prow makemigrations` names its files, so they sort by date.
            "migration": f"{now:%Y_%m_%d_%H%M}-{revision}_create_notes",
            "revision": revision,
            "create_date": str(now),
            # For development only (.env is git-ignored); production sets its own.
            "secret_key": secrets.token_urlsafe(48),
        },
    )
    files[PurePosixPath("migrations/env.py")] = ENV_PY
    files[PurePosixPath("migrations/script.py.mako")] = SCRIPT_PY_MAKO
    return files


@click.command()
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The project's folder [default: the one holding the current folder].",
)
def startapp(name: str, directory: Path | None) -> None:
    """Add an app NAME to the project: PACKAGE/apps/NAME/ with models, routes and a test.

    Run it anywhere inside a project made by `prow new` (its pyproject.toml has a
    [tool.prow] table). Then list the app in the settings' `apps`, as printed.

    \b
    Examples:
      prow startapp blog
      prow startapp billing --directory ~/code/shop
    """
    check_name(name, "app", top_level=False)
    project = find_project(directory)
    if project is None:
        raise CLIError(
            "no prow project here: run prow startapp inside a project made by `prow new` "
            "(its pyproject.toml has a [tool.prow] table naming the package)"
        )
    apps = project.root / project.package / "apps"
    target = apps / name
    if target.exists():
        raise CLIError(f"{target} already exists; choose another app name")
    _write(target, render("app", {"app": name, "package": project.package}))
    if not (apps / "__init__.py").exists():
        (apps / "__init__.py").write_text('"""The project\'s apps."""\n', encoding="utf-8")
    module = f"{project.package}.apps.{name}"
    click.echo(f"Created app {name} in {target}")
    click.echo(f"Add it to `apps` in {project.package}/settings.py:")
    click.echo(f'    "{module}",')
