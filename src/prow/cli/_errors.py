"""The one error type commands raise for a user's mistake."""

from __future__ import annotations

import click

__all__ = ["CLIError"]


class CLIError(click.ClickException):
    """A mistake the user can fix (no app found, bad revision, unreachable database...).

    Click prints it as one ``Error: ...`` line on stderr and exits with status 1, with no
    traceback: raise it with a message that says what went wrong and how to fix it.
    """
