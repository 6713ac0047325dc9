"""``prow check``: is the project set up right, and (``--deploy``) is it safe to put online?

Each problem has a stable id, a sentence saying what is wrong and one saying how to fix it:

========== =================================================================================
id         problem
========== =================================================================================
prow.E801  ``debug`` is on (deploy)
prow.E802  no secret key (deploy)
prow.E803  the secret key is weak: short, repetitive or a placeholder (deploy)
prow.E804  no allowed hosts (deploy)
prow.E805  the allowed hosts accept any host, ``*`` (deploy)
prow.E806  a cookie/HTTPS setting the settings define is off (deploy)
prow.E807  migrations not applied to the database
prow.E808  the database's migration state cannot be read
prow.E809  the allowed hosts are only this machine's names (deploy)
prow.E810  the database server cannot be reached now (refused, unreachable, starting up)
prow.E811  the models changed without a migration
prow.E812  the app uses a dependency of an extra that pyproject.toml does not ask for
========== =================================================================================

Loading the app already checks the rest: apps (``prow.E7xx``), settings (``prow.E601``).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from prow._exceptions import ConfigurationError
from prow._extras import canonical, extras_providing, installed_by, requirement
from prow._security import key_weakness
from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLIError
from prow.cli._project import Project, find_project

if TYPE_CHECKING:
    from prow import App

__all__ = [
    "Problem",
    "check",
    "deploy_problems",
    "migration_problems",
    "reachability_problems",
]

# The development default of ``allowed_hosts``: fine locally, wrong for a deployed site.
_LOCAL_HOSTS = frozenset(("localhost", "127.0.0.1", "::1", "testserver"))
# Cookie and HTTPS settings that, when a project's Settings defines them, must be on in
# production: without them a session cookie travels over plain HTTP and can be stolen.
_SECURE_FLAGS = (
    "session_cookie_secure",
    "csrf_cookie_secure",
    "secure_cookies",
    "cookie_secure",
    "https_only",
)
_GENERATE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


@dataclass(frozen=True)
class Problem:
    """One failed check: its stable id, what is wrong, and how to fix it."""

    id: str
    message: str
    fix: str


@click.command()
@app_option
@click.option(
    "--deploy", is_flag=True, help="Also check the settings for production: debug, keys, hosts."
)
@click.option(
    "--migrations",
    "migrations",
    type=click.Path(file_okay=False, path_type=Path),
    help="The migrations folder [default: migrations/ in the project].",
)
def check(app_path: str | None, deploy: bool, migrations: Path | None) -> None:
    """Check the project, and with --deploy whether it is ready for production.

    Loads the app (and so its settings and apps), then compares the migrations folder with
    the database. --deploy adds: debug off, a strong secret key, allowed hosts set and not
    "*", secure cookie settings on. Each problem is printed with its id and a fix; the exit
    status is 1 when there is any.

    \b
    Examples:
      prow check                          # the app loads, migrations are applied
      PROW_ENV=production prow check --deploy
      prow check --deploy --app shop.main:app
    """
    project = find_project()
    app = _load(app_path, project)
    _build(app)
    settings = _settings(app, project)
    # Read what the app imported before the checks below import more (Alembic, drivers).
    problems = extras_problems(project.root) if project else []
    problems += deploy_problems(settings, app) if deploy else []
    folder = migrations or (project.root if project else Path.cwd()) / "migrations"
    problems += reachability_problems(app)
    problems += migration_problems(app, folder)
    for problem in problems:
        click.echo(f"{problem.id} {problem.message}\n    Fix: {problem.fix}")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found.")
        raise click.exceptions.Exit(1)
    click.echo("No problems found." + ("" if deploy else " (Add --deploy for production.)"))


def _load(app_path: str | None, project: Project | None) -> App:
    spec = app_path or (project.app if project else None)
    try:
        return load_app(spec, directory=project.root if project else None)
    except ConfigurationError as exc:  # pragma: no cover - load_app reports these itself
        raise CLIError(str(exc)) from None


def _build(app: App) -> None:
    """Build the app and start its extensions as start-up does, so what would stop the
    server (an unresolvable annotation, a missing secret key, a database URL that cannot
    work) stops the check too. The app's own start-up hooks are not run."""
    try:
        app.build()
        asyncio.run(_start_extensions(app))
    except ConfigurationError as exc:
        raise CLIError(f"the app cannot start: {exc}".replace("\n", " ")) from None
    except Exception as exc:
        raise CLIError(f"the app cannot start: {type(exc).__name__}: {exc}") from None


async def _start_extensions(app: App) -> None:
    async with app.extensions_running():
        pass


def _settings(app: App, project: Project | None) -> Any:
    """The app's settings (``create_app`` keeps them), else the project's class, else prow's."""
    if "settings" in app.state:
        return app.state.settings
    from prow.settings import load_settings

    settings_class = None
    if project is not None and project.settings:
        settings_class = _import_attr(project.settings)
    try:
        return load_settings(settings_class)
    except ConfigurationError as exc:
        raise CLIError(str(exc).replace("\n", " ")) from None


def _import_attr(spec: str) -> Any:
    import importlib

    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr or "Settings")
    except (ImportError, AttributeError) as exc:
        raise CLIError(f"cannot load the settings {spec!r} of [tool.prow]: {exc}") from None


def deploy_problems(settings: Any, app: App | None = None) -> list[Problem]:
    """The production checks of ``settings`` (and the app's own ``debug``), in id order."""
    return [
        *_debug(settings, app),
        *_secret_key(settings),
        *_allowed_hosts(settings),
        *_secure_flags(settings),
    ]


def _debug(settings: Any, app: App | None) -> Iterator[Problem]:
    if getattr(settings, "debug", False) or (app is not None and app.debug):
        yield Problem(
            "prow.E801",
            "debug is on: error pages show tracebacks and code to anyone who triggers one.",
            "set PROW_DEBUG=false in the production environment.",
        )


def _secret_key(settings: Any) -> Iterator[Problem]:
    key = getattr(settings, "secret_key", None)
    if key is not None and hasattr(key, "get_secret_value"):
        key = key.get_secret_value()
    if not key:
        yield Problem(
            "prow.E802",
            "no secret key: sessions, CSRF tokens and signed data cannot be protected.",
            f"set PROW_SECRET_KEY to a long random string, e.g. from: {_GENERATE_KEY}",
        )
        return
    weakness = key_weakness(str(key))
    if weakness:
        # The key itself is never printed: this output ends up in CI logs.
        yield Problem(
            "prow.E803",
            f"the secret key is weak ({weakness}): anyone who guesses it can forge sessions.",
            f"set PROW_SECRET_KEY to a long random string, e.g. from: {_GENERATE_KEY}",
        )


def _allowed_hosts(settings: Any) -> Iterator[Problem]:
    if not hasattr(settings, "allowed_hosts"):
        return
    hosts = list(settings.allowed_hosts or [])
    if not hosts:
        yield Problem(
            "prow.E804",
            "no allowed hosts: the site answers no host name.",
            "set PROW_ALLOWED_HOSTS to the site's host names, e.g. example.com,www.example.com",
        )
    elif set(hosts) <= _LOCAL_HOSTS:
        yield Problem(
            "prow.E809",
            "allowed hosts name only this machine (the development default): the site "
            "answers 400 to every request under its real name.",
            "set PROW_ALLOWED_HOSTS to the site's host names, e.g. example.com,www.example.com",
        )
    elif "*" in hosts:
        yield Problem(
            "prow.E805",
            'allowed hosts contain "*": forged Host headers reach the app '
            "(password-reset links, cache poisoning).",
            'list the real host names in PROW_ALLOWED_HOSTS instead of "*".',
        )


def _secure_flags(settings: Any) -> Iterator[Problem]:
    for name in _SECURE_FLAGS:
        if getattr(settings, name, None) is False:
            yield Problem(
                "prow.E806",
                f"{name} is off: cookies can be sent over plain HTTP and stolen on the way.",
                f"set PROW_{name.upper()}=true and serve the site over HTTPS.",
            )


def reachability_problems(app: App) -> list[Problem]:
    """The database that the start-up check found down for now (the app would still start)."""
    for extension in app.extensions:
        reason = getattr(extension, "unreachable", None)
        if reason:
            return [
                Problem(
                    "prow.E810",
                    f"the database {extension!r} cannot be reached now: {reason}. The app "
                    "starts, but its requests are answered 503 until it can.",
                    "start the database server, or check the host and port of the URL.",
                )
            ]
    return []


def migration_problems(app: App, folder: Path) -> list[Problem]:
    """Migrations in ``folder`` not applied to the app's database (none if no folder)."""
    if not (folder / "env.py").is_file():
        return []
    try:
        from prow.db import MigrationError, database, showmigrations
    except ModuleNotFoundError as exc:
        return [_unreadable(f"the db extra is not installed ({exc.name} is missing)")]
    url = database(app).url
    try:
        pending = [
            entry for entry in showmigrations(url=url, directory=folder) if not entry.applied
        ]
    except MigrationError as exc:
        return [_unreadable(str(exc))]
    if not pending:
        return _model_problems(url, folder)
    names = ", ".join(f"{entry.revision} ({entry.message})" for entry in pending)
    return [
        Problem(
            "prow.E807",
            f"{len(pending)} migration{'s' if len(pending) > 1 else ''} not applied to the "
            f"database: {names}.",
            "run `prow migrate` (before starting the new version of the app).",
        )
    ]


def _model_problems(url: str, folder: Path) -> list[Problem]:
    """Models changed since the newest migration: the first request that reads a new
    column would answer 500 ("no such column")."""
    from prow.db import MigrationError, model_changes

    try:
        changes = model_changes(url=url, directory=folder)
    except MigrationError as exc:
        return [_unreadable(str(exc))]
    if not changes:
        return []
    return [
        Problem(
            "prow.E811",
            f"the models changed since the newest migration: {', '.join(changes)}.",
            'run `prow makemigrations -m "what changed"`, review the file, then `prow migrate`.',
        )
    ]


def extras_problems(root: Path) -> list[Problem]:
    """Dependencies the app imported that only an extra of prow installs, and that the
    project's ``pyproject.toml`` asks for nowhere (neither in its dependencies nor in an
    optional group): a fresh environment of the project would fail with
    ``ModuleNotFoundError`` (here they are installed for another reason)."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []  # find_project read it a moment ago: nothing to add
    table = project.get("project", {})
    declared = table.get("dependencies")
    if not isinstance(declared, list):
        return []  # not an installable project: nothing says how its environment is made
    # An optional group counts too: a project installs ".[production]" where it deploys.
    optional = table.get("optional-dependencies", {})
    groups = [declared, *(group for group in optional.values() if isinstance(group, list))]
    parsed = [requirement(line) for group in groups for line in group if isinstance(line, str)]
    asked = {found[0] for found in parsed if found}
    covered = asked | installed_by(_prow_extras(parsed))
    extras = _prow_extras([requirement(line) for line in declared if isinstance(line, str)])
    owners = importlib.metadata.packages_distributions()
    missing: dict[str, set[str]] = {}
    for module in sorted(name for name in sys.modules if "." not in name):
        for distribution in {canonical(owner) for owner in owners.get(module, ())}:
            wanted = extras_providing(distribution)
            if wanted and distribution not in covered:
                missing.setdefault(wanted[0], set()).add(module)
    return [
        Problem(
            "prow.E812",
            f"the app uses {', '.join(sorted(modules))}, which prow's {extra!r} extra "
            "installs, but pyproject.toml's dependencies do not ask for it: a new "
            "environment of the project would fail with ModuleNotFoundError.",
            f"add {extra!r} to the extras of prow in [project] dependencies "
            f'("prow[{",".join(sorted(extras | {extra}))}]"), then reinstall.',
        )
        for extra, modules in sorted(missing.items())
    ]


def _prow_extras(parsed: list[tuple[str, frozenset[str]] | None]) -> set[str]:
    return {extra for found in parsed if found and found[0] == "prow" for extra in found[1]}


def _unreadable(reason: str) -> Problem:
    return Problem(
        "prow.E808",
        f"cannot tell whether the database is migrated: {reason}.",
        "check PROW_DATABASE_URL and that the database is reachable, then run prow check again.",
    )
