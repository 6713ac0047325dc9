"""How the CLI reports a user's mistake: one ``Error: ...`` line and exit status 1.

Commands raise :class:`CLIError`. Other errors a user can cause while a command runs (a
:class:`prow.ConfigurationError` such as a malformed database URL, a file that cannot be
written) are translated into it by :func:`reported_errors`, which :class:`CLIGroup` and
:class:`CLICommand` wrap around every invocation, so none of them ends in a traceback.
A bug (any other exception) still shows its traceback: hiding it would hide the bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from prow._exceptions import ConfigurationError

__all__ = ["CLICommand", "CLIError", "CLIGroup", "reported_errors"]


class CLIError(click.ClickException):
    """A mistake the user can fix (no app found, bad revision, unreachable database...).

    Click prints it as one ``Error: ...`` line on stderr and exits with status 1, with no
    traceback: raise it with a message that says what went wrong and how to fix it.
    """


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the errors a user causes into :class:`CLIError` (one line, exit status 1)."""
    try:
        yield
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        # A file the command reads or writes (permissions, a missing folder, a full disk):
        # the message names the file, which is all the user needs.
        raise CLIError(_first_line(exc)) from None


class CLICommand(click.Command):
    """A command whose expected failures print one line: see :func:`reported_errors`."""

    def invoke(self, ctx: click.Context) -> Any:
        with reported_errors():
            return super().invoke(ctx)


class CLIGroup(click.Group):
    """A command group whose every subcommand's expected failures print one line."""

    def invoke(self, ctx: click.Context) -> Any:
        with reported_errors():
            return super().invoke(ctx)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
