"""Running an app's lifespan around a test client's ``with`` block."""

from __future__ import annotations

from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio

from prow._types import ASGIApp, Message
from prow.testing._plumbing import Mailbox

if TYPE_CHECKING:
    from anyio.abc import TaskGroup


class _Lifespan:
    """Drives an app's lifespan protocol: ``run`` in a task, then ``startup`` and ``shutdown``."""

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state
        self._inbox = Mailbox()
        self._answers: deque[Message] = deque()
        self._signal = self._inbox.changed
        self._cancel_scope: anyio.CancelScope | None = None
        self._cancelled = False
        self._received = False  # the app took the startup message
        self._waiting = False  # the app is blocked in receive()
        self._finished = False
        self._supported = True
        self._error: Exception | None = None

    async def run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self._state,
        }
        with anyio.CancelScope() as cancel_scope:
            self._cancel_scope = cancel_scope
            if self._cancelled:
                cancel_scope.cancel()
            try:
                await self._app(scope, self._receive, self._send)
            except Exception as exc:  # reported to the test by startup() or shutdown()
                self._error = exc
            finally:
                self._finished = True
                self._signal.fire()

    def cancel(self) -> None:
        """Stop the app's lifespan task if it is still running (it ignored shutdown)."""
        self._cancelled = True
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    async def _receive(self) -> Message:
        self._waiting = True
        self._signal.fire()
        try:
            message = await self._inbox.get()
        finally:
            self._waiting = False
        self._received = True
        return message

    async def _send(self, message: Message) -> None:
        self._answers.append(dict(message))
        self._signal.fire()

    async def _next_answer(self) -> Message | None:
        await self._signal.wait_for(lambda: bool(self._answers) or self._finished)
        return self._answers.popleft() if self._answers else None

    async def _settle(self) -> None:
        """Wait until the app has returned or waits for a message we will not send."""
        await self._signal.wait_for(lambda: self._finished or (self._waiting and not self._inbox))

    async def startup(self) -> None:
        """Send ``lifespan.startup``; raise what the app reported if its startup failed."""
        self._inbox.put({"type": "lifespan.startup"})
        answer = await self._next_answer()
        if answer is None:
            if not self._received:
                # The ASGI spec lets an app refuse the lifespan scope by raising at once.
                self._supported = False
                return
            raise self._error or RuntimeError("the app's lifespan returned during startup")
        if answer["type"] == "lifespan.startup.complete":
            return
        if answer["type"] == "lifespan.startup.failed":
            await self._settle()
            raise self._error or RuntimeError(f"lifespan startup failed: {answer.get('message')}")
        raise RuntimeError(f"unexpected lifespan message during startup: {answer['type']!r}")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown``; raise what the app reported if its shutdown failed."""
        if not self._supported:
            return
        if not self._finished:
            self._inbox.put({"type": "lifespan.shutdown"})
            answer = await self._next_answer()
            await self._settle()
            if answer is not None and answer["type"] == "lifespan.shutdown.failed":
                message = answer.get("message")
                raise self._error or RuntimeError(f"lifespan shutdown failed: {message}")
        if self._error is not None:
            raise self._error


class LifespanSession:
    """An async context manager that runs the app's lifespan around its block.

    ``AsyncTestClient`` enters it directly; ``TestClient`` enters it through its portal.
    Shutdown runs however the block ends; an app whose startup failed is not asked to shut down.
    """

    # Made on entering, because both need the event loop they will run on.
    _lifespan: _Lifespan
    _task_group: TaskGroup

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self._app = app
        self._state = state

    async def __aenter__(self) -> None:
        self._lifespan = _Lifespan(self._app, self._state)
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._lifespan.run)
        try:
            await self._lifespan.startup()
        except BaseException:
            await self._close()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._lifespan.shutdown()
        finally:
            await self._close()

    async def _close(self) -> None:
        """End the lifespan task and its task group without wrapping errors in a group."""
        self._lifespan.cancel()
        # Given no exception, the task group only waits for its (cancelled) task; handed the
        # test's exception it would re-raise it inside an ExceptionGroup.
        await self._task_group.__aexit__(None, None, None)
