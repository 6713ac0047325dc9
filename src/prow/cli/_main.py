"""The ``prow`` command group; each command module contributes its commands here."""

from __future__ import annotations

import click

from prow import __version__
from prow.cli import _check, _db, _inspect, _project, _serve
from prow.cli._errors import CLIGroup

__all__ = ["main"]


@click.group(
    cls=CLIGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
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
    _serve.run,
    _serve.serve,
    _inspect.routes,
    _inspect.openapi,
    _inspect.shell,
    _project.new,
    _project.startapp,
    _check.check,
)
for _command in _COMMANDS:
    main.add_command(_command)
