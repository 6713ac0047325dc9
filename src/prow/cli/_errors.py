"""How the CLI reports a user's mistake: one ``Error: ...`` line and exit status 1.

A usage mistake (an unknown option, a missing argument) is one line too, with exit status 2.

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

__all__ = ["CLICommand", "CLIError", "CLIGroup", "OneLineUsageError", "reported_errors"]


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
    except OneLineUsageError:
        raise
    except click.UsageError as exc:
        # A bad option or argument: one line naming the problem and where help is, rather
        # than click's usage block (the user asked for a command, not its manual).
        raise OneLineUsageError(exc.format_message(), exc.ctx) from None
    except ConfigurationError as exc:
        raise CLIError(str(exc)) from None
    except BrokenPipeError:
        # The reader went away (`prow routes | head -3`): nothing left to say, and saying it
        # would fail again. Point stdout at devnull so the interpreter's flush stays quiet.
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise click.exceptions.Exit(0) from None
    except OSError as exc:
        # A file the command reads or writes (permissions, a missing folder, a full disk):
        # the message names the file, which is all the user needs.
        raise CLIError(_first_line(exc)) from None


class OneLineUsageError(click.UsageError):
    """A usage mistake shown as one line: ``Error: <problem> (see 'prow run --help')``."""

    def show(self, file: Any = None) -> None:
        hint = ""
        if self.ctx is not None:
            option = max(self.ctx.help_option_names, key=len, default="--help")
            hint = f" (see '{self.ctx.command_path} {option}')"
        message = self.format_message().rstrip(".")
        click.echo(f"Error: {message}{hint}", file=file, err=True)


class CLICommand(click.Command):
    """A command whose expected failures print one line: see :func:`reported_errors`."""

    def invoke(self, ctx: click.Context) -> Any:
        with reported_errors():
            return super().invoke(ctx)


class CLIGroup(click.Group):
    """A command group whose every subcommand's expected failures print one line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with reported_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with reported_errors():
            return super().invoke(ctx)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
