"""``prow createsuperuser``: prompts, the non-interactive form, and one-line errors."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from auth.conftest import PASSWORD, SECRET
from prow.auth import User, verify_password
from prow.cli import main
from prow.db import Database

_numbers = itertools.count()


@pytest.fixture
def project(tmp_path: Path) -> tuple[str, str]:
    """An app file with Auth and a SQLite database holding the auth tables: (--app, url)."""
    url = f"sqlite:///{tmp_path / 'site.sqlite3'}"
    name = f"auth_cli_project_{next(_numbers)}"
    source = (
        "from prow import App\nfrom prow.auth import Auth\n"
        f"app = App(secret_key={SECRET!r}, database_url={url!r})\nauth = Auth(app)\n"
    )
    (tmp_path / f"{name}.py").write_text(source)

    async def tables() -> None:
        from prow import App
        from prow.auth import Auth

        db = Database(url)
        await db.create_all(*Auth(App(secret_key=SECRET)).tables())
        await db.dispose()

    asyncio.run(tables())
    return str(tmp_path / f"{name}.py"), url


def _users(url: str) -> list[User]:
    async def read() -> list[User]:
        db = Database(url)
        async with db.session() as session:
            users = list(await session.scalars(select(User).order_by(User.id)))
        await db.dispose()
        return users

    return asyncio.run(read())


def test_non_interactive_with_the_password_from_the_environment(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = project
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", PASSWORD)
    args = ["--app", app, "--username", "admin", "--email", "a@example.com", "--no-input"]
    result = CliRunner().invoke(main, ["createsuperuser", *args])
    assert result.exit_code == 0, result.output
    assert result.output == "Superuser 'admin' created.\n"
    (user,) = _users(url)
    assert (user.username, user.email, user.is_superuser, user.is_staff) == (
        "admin",
        "a@example.com",
        True,
        True,
    )
    assert verify_password(PASSWORD, user.password)


def test_interactive_prompts(project: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    app, url = project
    monkeypatch.delenv("PROW_SUPERUSER_PASSWORD", raising=False)
    typed = f"root\nroot@example.com\n{PASSWORD}\n{PASSWORD}\n"
    result = CliRunner().invoke(main, ["createsuperuser", "--app", app], input=typed)
    assert result.exit_code == 0, result.output
    assert "Password (again)" in result.output and PASSWORD not in result.output
    assert [u.username for u in _users(url)] == ["root"]


@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (["--no-input"], PASSWORD, "Error: --username is required with --no-input\n"),
        (
            ["--username", "admin", "--no-input"],
            "",
            "Error: set PROW_SUPERUSER_PASSWORD to the password when using --no-input\n",
        ),
        (
            ["--username", "admin", "--email", "", "--no-input"],
            "12345678",
            "Error: the password is too weak: it must not be only digits; "
            "it is a commonly used password\n",
        ),
    ],
)
def test_mistakes_are_one_line(
    project: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    password: str,
    message: str,
) -> None:
    app, url = project
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", password)
    result = CliRunner().invoke(main, ["createsuperuser", "--app", app, *args])
    assert result.exit_code == 1
    assert result.output == message
    assert _users(url) == []


def test_an_existing_username_is_refused(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = project
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", PASSWORD)
    args = ["--app", app, "--username", "admin", "--no-input"]
    assert CliRunner().invoke(main, ["createsuperuser", *args]).exit_code == 0
    again = CliRunner().invoke(main, ["createsuperuser", *args])
    assert again.exit_code == 1
    assert again.output == "Error: a user named 'admin' already exists\n"


def test_the_same_name_in_another_case_or_form_is_refused(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = project
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", PASSWORD)
    first = ["createsuperuser", "--app", app, "--username", "Admin", "--email", "Boss@Example.COM"]
    created = CliRunner().invoke(main, [*first, "--no-input"])
    assert created.output == "Superuser 'Admin' created.\n"
    for name in ("admin", "ＡＤＭＩＮ"):  # another case; fullwidth letters
        again = CliRunner().invoke(
            main, ["createsuperuser", "--app", app, "--username", name, "--no-input"]
        )
        assert again.output == "Error: a user named 'Admin' already exists\n"
    assert [(u.username, u.email) for u in _users(url)] == [("Admin", "boss@example.com")]


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("\u0430dmin", "must not mix characters of different scripts (Cyrillic and Latin)"),
        ("ad\u200bmin", "must not contain invisible or control characters (U+200B ZERO WIDTH"),
        ("admin ", "must not start or end with a space"),
    ],
)
def test_a_look_alike_or_invisible_username_is_refused(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch, username: str, reason: str
) -> None:
    app, url = project
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", PASSWORD)
    result = CliRunner().invoke(
        main, ["createsuperuser", "--app", app, "--username", username, "--no-input"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: the username is refused: the username " + reason)
    assert result.output.count("\n") == 1
    assert _users(url) == []


def test_missing_tables_say_to_migrate(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app, _ = project
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", PASSWORD)
    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    args = ["--app", app, "--username", "admin", "--no-input", "--database-url", empty]
    result = CliRunner().invoke(main, ["createsuperuser", *args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot create the user in sqlite+aiosqlite:///")
    assert result.output.endswith("has `prow migrate` been run?\n")
    assert result.output.count("\n") == 1


def test_an_app_without_auth_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "auth_cli_bare.py").write_text("from prow import App\napp = App()\n")
    monkeypatch.setenv("PROW_SUPERUSER_PASSWORD", PASSWORD)
    args = ["--app", str(tmp_path / "auth_cli_bare.py"), "--username", "x", "--no-input"]
    result = CliRunner().invoke(main, ["createsuperuser", *args])
    assert result.exit_code == 1
    assert result.output.startswith("Error: prow.E162: ")


def test_a_weak_password_is_asked_again_as_django_does(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = project
    monkeypatch.delenv("PROW_SUPERUSER_PASSWORD", raising=False)
    # a weak one (refusing the bypass), then two that differ, then a good one
    typed = f"root\n\n12345678\n12345678\nn\nfirst one\nsecond one\n{PASSWORD}\n{PASSWORD}\n"
    result = CliRunner().invoke(main, ["createsuperuser", "--app", app], input=typed)
    assert result.exit_code == 0, result.output
    assert "The password is too weak: it must not be only digits" in result.output
    assert "Bypass password validation and create user anyway? [y/N]" in result.output
    assert result.output.endswith("Superuser 'root' created.\n")
    (user,) = _users(url)
    assert verify_password(PASSWORD, user.password)


def test_a_weak_password_can_be_kept_on_purpose(
    project: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, url = project
    monkeypatch.delenv("PROW_SUPERUSER_PASSWORD", raising=False)
    typed = "root\n\n12345678\n12345678\ny\n"
    result = CliRunner().invoke(main, ["createsuperuser", "--app", app], input=typed)
    assert result.exit_code == 0, result.output
    (user,) = _users(url)
    assert verify_password("12345678", user.password)
