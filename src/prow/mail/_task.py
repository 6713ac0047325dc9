"""Sending mail through ``prow.tasks`` (placeholder until the tasks battery lands)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prow.mail._message import EmailMessage


async def enqueue_messages(messages: Sequence[EmailMessage]) -> int:  # pragma: no cover
    """Queue one ``prow.mail.send`` task per message; the number queued."""
    raise NotImplementedError("prow.tasks is not available yet")
