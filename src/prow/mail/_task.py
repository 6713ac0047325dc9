"""Mail through ``prow.tasks``: one ``prow.mail.send`` task per message, retried with backoff.

Imported only when the app has the ``Tasks`` extension (so ``prow.tasks`` is loaded already).
Enqueued in a request that uses ``DBSession``, the message is stored in the request's
transaction: it is sent only if the request commits, and at least once if it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prow.mail._extension import Mail
from prow.mail._message import EmailMessage
from prow.tasks import task

__all__ = ["enqueue_messages", "send_message"]


@task(name="prow.mail.send", retries=5, backoff=30.0, timeout=120)  # type: ignore[untyped-decorator]
async def send_message(message: dict[str, Any], mail: Mail) -> int:
    """Send one message (``EmailMessage.to_dict()``) with the app's mail backend now."""
    return await mail.send_now(EmailMessage.from_dict(message))


async def enqueue_messages(messages: Sequence[EmailMessage]) -> int:
    """Queue one ``prow.mail.send`` task per message; the number queued."""
    for message in messages:
        await send_message.enqueue(message.to_dict())
    return len(messages)
