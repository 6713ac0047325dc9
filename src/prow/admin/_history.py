"""The admin's history: one ``LogEntry`` row per add, change and delete made through it.

Who (the user's id and name, kept even when the user is gone), when, which object (its
model key, primary key and text at the time) and what changed (the names of the fields,
never their values: a value may be a secret the history page should not repeat).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from prow.db import Model

__all__ = ["ADDITION", "CHANGE", "DELETION", "LogEntry", "log_action", "recent_actions"]

ADDITION, CHANGE, DELETION = 1, 2, 3
_VERBS = {ADDITION: "Added", CHANGE: "Changed", DELETION: "Deleted"}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LogEntry(Model):
    """One action taken in the admin (table ``admin_log``)."""

    __tablename__ = "admin_log"
    __table_args__ = (Index("ix_admin_log_object", "model_key", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    action_time: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), default=_now, index=True
    )
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(150), default="")
    model_key: Mapped[str] = mapped_column(String(100))
    object_id: Mapped[str] = mapped_column(String(100))
    object_repr: Mapped[str] = mapped_column(String(200))
    action_flag: Mapped[int] = mapped_column(Integer)
    change_message: Mapped[str] = mapped_column(Text, default="")

    @property
    def verb(self) -> str:
        """ "Added", "Changed" or "Deleted"."""
        return _VERBS.get(self.action_flag, "?")

    @property
    def changed_fields(self) -> list[str]:
        """The names of the fields a change touched (empty for additions and deletions)."""
        try:
            data = json.loads(self.change_message or "{}")
        except ValueError:
            return []
        fields = data.get("changed", []) if isinstance(data, dict) else []
        return [str(name) for name in fields]

    @property
    def message(self) -> str:
        """A sentence for people: "Changed title and price."."""
        fields = self.changed_fields
        if self.action_flag == CHANGE:
            return f"Changed {_and(fields)}." if fields else "No fields changed."
        return f"{self.verb}."


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def log_action(
    session: AsyncSession,
    user: Any,
    model_key: str,
    obj_id: Any,
    obj_repr: str,
    flag: int,
    changed: list[str] | None = None,
) -> LogEntry:
    """Add a history row to ``session`` (committed with the change it records)."""
    entry = LogEntry(
        user_id=getattr(user, "id", None),
        username=str(getattr(user, "username", "") or "")[:150],
        model_key=model_key,
        object_id=str(obj_id)[:100],
        object_repr=obj_repr[:200],
        action_flag=flag,
        change_message=json.dumps({"changed": changed}) if changed else "",
        action_time=_now(),
    )
    session.add(entry)
    return entry


async def recent_actions(
    session: AsyncSession, *, user_id: Any = None, limit: int = 10
) -> list[LogEntry]:
    """The latest entries, newest first (of one user when ``user_id`` is given)."""
    query = select(LogEntry).order_by(LogEntry.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(LogEntry.user_id == user_id)
    return list((await session.scalars(query)).all())


async def object_history(session: AsyncSession, model_key: str, obj_id: Any) -> list[LogEntry]:
    """Every entry about one object, oldest first."""
    query = (
        select(LogEntry)
        .where(LogEntry.model_key == model_key, LogEntry.object_id == str(obj_id))
        .order_by(LogEntry.id)
    )
    return list((await session.scalars(query)).all())
