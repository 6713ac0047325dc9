"""API keys: ``prow_<prefix>_<secret>``, stored as a SHA-256 hash, found by their prefix.

Threat: a stolen database. Only ``sha256(key)`` is stored; the key is shown once, when it
is made. The secret has 256 random bits, so a fast hash is enough (unlike passwords, it
cannot be guessed from a dictionary). The public prefix finds the row with one indexed
lookup; the hashes are compared in constant time.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["create_api_key", "find_api_key", "hash_api_key", "revoke_api_key"]

_PREFIX = "prow_"
#: How long a key's ``last_used`` may lag behind: it is written at most this often.
LAST_USED_PRECISION = datetime.timedelta(minutes=1)


def hash_api_key(key: str) -> str:
    """The stored form of ``key``: its SHA-256, hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _split(key: str) -> str | None:
    """The lookup prefix of ``key``, or ``None`` if it does not look like a prow key."""
    if not key.startswith(_PREFIX):
        return None
    prefix, sep, secret = key[len(_PREFIX) :].partition("_")
    if not sep or not prefix or not secret or len(prefix) > 16:
        return None
    return prefix


async def create_api_key(
    session: AsyncSession,
    model: type[Any],
    user: Any,
    *,
    name: str = "",
    expires: datetime.datetime | None = None,
) -> tuple[Any, str]:
    """Make a key for ``user``: returns ``(row, key)``; the key is not stored, show it now."""
    prefix = secrets.token_hex(4)  # hex: no "_" that would blur where the prefix ends
    key = f"{_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = model(user_id=user.id, name=name, prefix=prefix, key_hash=hash_api_key(key))
    row.expires = expires
    session.add(row)
    await session.flush()
    return row, key


async def find_api_key(session: AsyncSession, model: type[Any], key: str) -> Any | None:
    """The usable key row matching ``key`` (not revoked, not expired), or ``None``."""
    prefix = _split(key)
    if prefix is None:
        return None
    row = (await session.scalars(select(model).where(model.prefix == prefix))).one_or_none()
    if row is None or not hmac.compare_digest(row.key_hash, hash_api_key(key)):
        return None
    now = datetime.datetime.now(datetime.UTC)
    if row.revoked or (row.expires is not None and _aware(row.expires) <= now):
        return None
    if row.last_used is None or now - _aware(row.last_used) >= LAST_USED_PRECISION:
        row.last_used = now  # not every request: a write per call would cost more than the call
    return row


async def revoke_api_key(session: AsyncSession, row: Any) -> None:
    """Revoke a key: every later request with it is refused."""
    row.revoked = True
    await session.flush()


def _aware(moment: datetime.datetime) -> datetime.datetime:
    # SQLite returns naive datetimes even for timezone=True columns; they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)
