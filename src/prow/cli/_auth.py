"""``prow createsuperuser``: add a user with every permission to the app's database.

At a terminal it asks for the username, email and password (the password twice, hidden).
In scripts and CI: ``--username NAME --email ADDRESS --no-input`` with the password in the
``PROW_SUPERUSER_PASSWORD`` environment variable (never a command-line option, which
``ps`` and shell histories would show). The password must pass prow's strength rules.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import click

from prow.cli._discovery import app_option, load_app
from prow.cli._errors import CLICommand, CLIError

__all__ = ["PASSWORD_ENV_VAR", "createsuperuser"]

PASSWORD_ENV_VAR = "PROW_SUPERUSER_PASSWORD"  # noqa: S105 - a variable name, not a password


@click.command(cls=CLICommand)
@click.option("--username", help="The new superuser's username.")
@click.option("--email", help="The new superuser's email address.")
@click.option(
    "--no-input",
    "no_input",
    is_flag=True,
    help=f"Ask nothing: take --username, --email and ${PASSWORD_ENV_VAR}.",
)
@click.option(
    "--database-url",
    metavar="URL",
    help="The database to use [default: the app's database].",
)
@app_option
def createsuperuser(
    username: str | None,
    email: str | None,
    no_input: bool,
    database_url: str | None,
    app_path: str | None,
) -> None:
    """Create a superuser: a user who may do everything, including in the admin.

    \b
    Examples:
      prow createsuperuser
      PROW_SUPERUSER_PASSWORD=... prow createsuperuser --username admin --email a@b.c --no-input
    """
    from prow.auth import AccountError, Auth, PasswordError, normalize_email, validate_password

    loaded = load_app(app_path)
    if Auth.installed_on(loaded) is None and hasattr(loaded, "build"):
        loaded.build()  # an extension that requires Auth (the admin) installs it when built
    auth = Auth.of(loaded)
    username, email = _identity(username, email, no_input)
    try:  # before asking for the password: the rules of every registration (NFKC...)
        username = auth.user_model(username=username).username
        email = normalize_email(email)
    except AccountError as exc:
        raise CLIError(f"the {exc.field} is refused: {exc.reason}") from None
    password = os.environ.get(PASSWORD_ENV_VAR) or ""
    if password or no_input:
        if not password:
            raise CLIError(f"set {PASSWORD_ENV_VAR} to the password when using --no-input")
        try:
            validate_password(password, username=username)
        except PasswordError as exc:
            raise CLIError(f"the password is too weak: {exc}") from None
        checked = True
    else:
        password, checked = _ask_password(username)
    asyncio.run(_create(auth, database_url, username, email, password, validate=checked))
    click.echo(f"Superuser {username!r} created.")


def _identity(username: str | None, email: str | None, no_input: bool) -> tuple[str, str]:
    if no_input:
        if not username:
            raise CLIError("--username is required with --no-input")
        return username, email or ""
    if not username:
        username = click.prompt("Username", type=str).strip()
    if email is None:
        email = click.prompt("Email address", default="", show_default=False, type=str)
    if not username:
        raise CLIError("the username must not be empty")
    return username, (email or "").strip()


def _ask_password(username: str) -> tuple[str, bool]:
    """Prompt until the password passes the rules, or the user bypasses them (as Django).

    Returns the password and whether it passed the rules.
    """
    from prow.auth import password_problems

    while True:
        entered: str = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Password (again)", type=str
        )
        problems = password_problems(entered, username=username)
        if not problems:
            return entered, True
        click.echo(f"The password is too weak: {'; '.join(problems)}.", err=True)
        if click.confirm("Bypass password validation and create user anyway?", default=False):
            return entered, False


async def _create(
    auth: Any, url: str | None, username: str, email: str, password: str, *, validate: bool = True
) -> None:
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from prow.auth import canonical_username
    from prow.db import Database, database

    db = Database(url) if url else database(auth.app)
    model = auth.user_model
    key = canonical_username(username)
    try:
        async with db.session() as session:
            taken = await session.scalar(select(model.username).where(model.username_key == key))
            if taken is not None:  # Alice when alice exists: one account, as at login
                raise CLIError(f"a user named {taken!r} already exists")
            await auth.create_user(
                session,
                username,
                password,
                validate=validate,
                email=email,
                is_staff=True,
                is_superuser=True,
            )
            await session.commit()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        raise CLIError(
            f"cannot create the user in {db.url}: {reason}; has `prow migrate` been run?"
        ) from None
    finally:
        await db.dispose()
