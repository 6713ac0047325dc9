"""prow's command line, ``prow COMMAND`` (or ``python -m prow.cli COMMAND``).

Commands are click commands added to the :data:`main` group; a command that loads the
user's app takes :func:`app_option` and calls :func:`load_app`, and reports a user's
mistake by raising :class:`CLIError` (one line on stderr, exit status 1). Made with
``cls=CLICommand`` (or in a :class:`CLIGroup`), a command also reports a configuration
mistake (``prow.E...``) or an OS error in that one line instead of a traceback::

    import click
    from prow.cli import app_option, load_app, main

    @main.command()
    @app_option
    def routes(app_path: str | None) -> None:
        \"\"\"List the app's routes.\"\"\"
        for route in load_app(app_path).routes:
            click.echo(route.path)
"""

from __future__ import annotations

from prow.cli._discovery import APP_ENV_VAR, app_option, load_app
from prow.cli._errors import CLICommand, CLIError, CLIGroup
from prow.cli._main import main

__all__ = ["APP_ENV_VAR", "CLICommand", "CLIError", "CLIGroup", "app_option", "load_app", "main"]
