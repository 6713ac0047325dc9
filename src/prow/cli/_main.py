"""The ``prow`` command group; each command module contributes its commands here."""

from __future__ import annotations

import click

from prow import __version__
from prow.apps import cli_commands
from prow.cli import (
    _auth,
    _check,
    _data,
    _db,
    _graphql,
    _inspect,
    _project,
    _serve,
    _tasks,
    _wheel,
)
from prow.cli._discovery import load_app
from prow.cli._errors import CLIError, CLIGroup

__all__ = ["main"]


class MainGroup(CLIGroup):
    """prow's own commands, then those the project's apps add (``commands`` in an app).

    The project's app is found the way every command finds it (``PROW_APP``,
    ``[tool.prow] app`` in pyproject.toml, ./app.py or ./main.py); an app made by
    :func:`prow.apps.create_app` knows its settings, and so the apps it lists.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        own = super().list_commands(ctx)
        return own + sorted(name for name in _app_commands(ctx) if name not in own)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = _app_commands(ctx).get(cmd_name)
        if command is None and ctx.meta.get(_LOAD_ERROR):
            raise CLIError(
                f"no such command {cmd_name!r}; the project's app, which may add commands, "
                f"could not be loaded: {ctx.meta[_LOAD_ERROR]}"
            )
        return command


_APP_COMMANDS = "prow.app_commands"
_LOAD_ERROR = "prow.app_load_error"


def _app_commands(ctx: click.Context) -> dict[str, click.Command]:
    """The commands of the project's apps, found once per invocation (none outside a project)."""
    if _APP_COMMANDS not in ctx.meta:
        ctx.meta[_APP_COMMANDS] = {}
        try:
            app = load_app(None)
        except CLIError as exc:
            if "no app found" not in exc.message:
                ctx.meta[_LOAD_ERROR] = exc.message
            return {}
        settings = getattr(app.state, "settings", None)
        if settings is not None:
            found = cli_commands(settings)
            ctx.meta[_APP_COMMANDS] = {c.name: c for c in found if c.name}
    commands: dict[str, click.Command] = ctx.meta[_APP_COMMANDS]
    return commands


@click.group(
    name="prow",
    cls=MainGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="prow")
def main() -> None:
    """prow: the command line of the prow web framework.

    Commands find your app with --app MODULE:ATTR, the PROW_APP environment variable, or
    `app` in ./app.py or ./main.py. Run `prow COMMAND --help` for a command's options.

    \b
    Examples:
      prow makemigrations -m "add items"   # write a migration for model changes
      prow migrate                         # apply pending migrations
      prow showmigrations                  # list migrations, applied or not
    """


_COMMANDS: tuple[click.Command, ...] = (
    _db.makemigrations,
    _db.migrate,
    _db.showmigrations,
    _data.dbshell,
    _data.dumpdata,
    _data.loaddata,
    _serve.run,
    _serve.serve,
    _inspect.routes,
    _inspect.openapi,
    _inspect.shell,
    _project.new,
    _project.startapp,
    _check.check,
    _auth.createsuperuser,
    _wheel.wheel,
    _tasks.worker,
    _tasks.tasks,
    _graphql.graphql_schema,
)
for _command in _COMMANDS:
    main.add_command(_command)
