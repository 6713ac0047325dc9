"""A custom user model is typed as itself in handlers: mypy --strict reads the pattern.

``Annotated[Member, Depends(current_user)]`` is the documented way (docs/auth.md); this
checks that a type checker sees ``Member`` (its own columns) and still catches mistakes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SNIPPET = """
from typing import Annotated

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from prow import Depends
from prow.auth import AbstractUser, current_user, optional_user
from prow.db import Model


class Member(AbstractUser, Model):
    __tablename__ = "typing_member"
    nickname: Mapped[str | None] = mapped_column(String(50))


CurrentMember = Annotated[Member, Depends(current_user)]
OptionalMember = Annotated[Member | None, Depends(optional_user)]


async def nickname(member: CurrentMember) -> str | None:
    reveal_type(member)
    return member.nickname


async def maybe(member: OptionalMember) -> str:
    return (member.nickname or "") if member else "anonymous"


async def wrong(member: CurrentMember) -> int:
    return member.nickname
"""


def test_the_current_user_pattern_type_checks(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "typed_member.py"
    source.write_text(SNIPPET)
    cache = Path(__file__).resolve().parents[2] / ".mypy_cache"  # shared: a second run is fast
    out, err, status = api.run(["--strict", "--cache-dir", str(cache), str(source)])
    lines = [line.split(":", 2)[-1].strip() for line in out.splitlines() if ".py:" in line]
    assert 'note: Revealed type is "typed_member.Member"' in lines, out + err
    assert lines[-1].startswith("error: Incompatible return value type"), out
    assert 'got "str | None", expected "int"' in lines[-1]
    assert len(lines) == 2 and status == 1, out  # nothing else is flagged


TYPED_AUTH = """
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from prow.auth import AbstractUser, Auth, CurrentUser, OptionalUser
from prow.db import DBSession, Model


class Member(AbstractUser, Model):
    __tablename__ = "typed_auth_member"
    nickname: Mapped[str | None] = mapped_column(String(50))


auth = Auth(user_model=Member)
reveal_type(auth)
reveal_type(Auth())


async def nickname(member: CurrentUser[Member]) -> str | None:
    reveal_type(member)
    return member.nickname


async def maybe(member: OptionalUser[Member]) -> str:
    reveal_type(member)
    return (member.nickname or "") if member else "anonymous"


async def default_model(user: CurrentUser, maybe: OptionalUser) -> str:
    reveal_type(user)
    reveal_type(maybe)
    return user.username


async def log_in(auth: Auth[Member], session: DBSession) -> str | None:
    user = await auth.authenticate(session, "mo", "a long pass phrase")
    reveal_type(user)
    return user.nickname if user else None


async def wrong_type(member: CurrentUser[Member]) -> int:
    return member.nickname


async def misspelt(member: CurrentUser[Member]) -> str | None:
    return member.nick_name


async def not_a_field_of_user(user: CurrentUser) -> str | None:
    return user.nickname
"""


def test_auth_and_current_user_are_typed_by_the_user_model(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    source = tmp_path / "typed_auth.py"
    source.write_text(TYPED_AUTH)
    cache = Path(__file__).resolve().parents[2] / ".mypy_cache"
    out, err, status = api.run(["--strict", "--cache-dir", str(cache), str(source)])
    found = [line.split(":", 2)[-1].strip() for line in out.splitlines() if ".py:" in line]
    revealed = [
        re.sub(r"[\w.]+\.(\w+)", r"\1", line.removeprefix("note: Revealed type is "))
        for line in found
        if "Reveal" in line
    ]  # without module paths: "Auth[Member]"
    # An unknown attribute is also "Any returned": the attribute error is the one that matters.
    errors = [line for line in found if line.startswith("error:") and "no-any-return" not in line]
    assert revealed == [
        '"Auth[Member]"',
        '"Auth[User]"',
        '"Member"',
        '"Member | None"',
        '"User"',
        '"User | None"',
        '"Member | None"',
    ], out + err
    assert len(errors) == 3 and status == 1, out
    assert 'got "str | None", expected "int"' in errors[0]
    assert '"Member" has no attribute "nick_name"' in errors[1]
    assert '"User" has no attribute "nickname"' in errors[2]
