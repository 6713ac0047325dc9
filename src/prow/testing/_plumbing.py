"""Task plumbing the test clients share: waking waiters, passing messages, portals."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import anyio

from prow._types import Message

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

#: Gives a blocking portal to run on: the ``with`` block's own, or a new one for one call.
PortalFactory = Callable[[], AbstractContextManager["BlockingPortal"]]


class Signal:
    """Wakes the tasks waiting on it, any number of times (an ``anyio.Event`` fires once)."""

    def __init__(self) -> None:
        self._event = anyio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = anyio.Event()

    async def wait_for(self, ready: Callable[[], bool]) -> None:
        while not ready():
            await self._event.wait()


class Mailbox:
    """ASGI messages passed to a task on the same event loop; ``get`` waits for one."""

    def __init__(self) -> None:
        self._items: deque[Message] = deque()
        self.changed = Signal()

    def put(self, message: Message) -> None:
        self._items.append(message)
        self.changed.fire()

    def __bool__(self) -> bool:
        return bool(self._items)

    async def get(self) -> Message:
        await self.changed.wait_for(lambda: bool(self._items))
        return self._items.popleft()
