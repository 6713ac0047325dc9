"""A custom user model is typed as itself in handlers: mypy --strict reads the pattern.

``Annotated[Member, Depends(current_user)]`` is the documented way (docs/auth.md); this
checks that a type checker sees ``Member`` (its own columns) and still catches mistakes.
"""

from __future__ import annotations

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
