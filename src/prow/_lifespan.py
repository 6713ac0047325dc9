"""The app's lifespan: start-up and shutdown, as a server, a test client or a script runs them.

A part of :class:`prow.App` kept in its own module (the app is a router, a middleware stack,
an error answerer and this): the ASGI ``lifespan`` protocol, the start-up and shutdown hooks
around the extensions, and ``running()`` / ``release()`` for code that uses the app's
batteries without serving it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from prow._types import Receive, Scope, Send

if TYPE_CHECKING:
    from prow._datastructures import State
    from prow.extensions._set import ExtensionSet

__all__ = ["AppLifespan"]


class AppLifespan:
    """What :class:`prow.App` does with the ASGI ``lifespan`` scope and around scripts."""

    # Set by App.__init__.
    state: State
    _extensions: ExtensionSet
    _on_startup: list[Callable[[], Any]]
    _on_shutdown: list[Callable[[], Any]]
    _lifespan: (
        Callable[[Any], contextlib.AbstractAsyncContextManager[Mapping[str, Any] | None]] | None
    )

    build: Callable[[], None]

    async def _run_lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        await receive()
        try:
            self.build()
            async with self._lifespan_context() as state:
                if state:
                    scope.setdefault("state", {}).update(state)
                    for key, value in state.items():
                        setattr(self.state, key, value)
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()
        except BaseException as exc:
            kind = "shutdown" if started else "startup"
            text = f"{type(exc).__name__}: {exc}"
            await send({"type": f"lifespan.{kind}.failed", "message": text})
            raise
        await send({"type": "lifespan.shutdown.complete"})

    @contextlib.asynccontextmanager
    async def _lifespan_context(self) -> AsyncIterator[Mapping[str, Any] | None]:
        async with self._extensions.running():
            for hook in self._on_startup:
                await _call_hook(hook)
            try:
                if self._lifespan is None:
                    yield None
                else:
                    async with self._lifespan(self) as state:
                        yield state
            finally:
                for hook in self._on_shutdown:
                    await _call_hook(hook)

    def extensions_running(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Start the extensions only (not the app's own hooks) around a block.

        ``prow check`` uses it to find out whether the app could start.
        """
        self.build()
        return self._extensions.running()

    async def release(self) -> None:
        """Close what the extensions opened on the running event loop (pools, clients).

        Safe at any time: the next use opens them again. A test client calls it before
        the event loop it ran the app on ends.
        """
        await self._extensions.release()

    def running(self) -> contextlib.AbstractAsyncContextManager[Mapping[str, Any] | None]:
        """The app's start-up and shutdown around a block, as a server's lifespan runs them.

        For scripts and shells that use the app's batteries without serving it::

            async with app.running():
                async with app.extension(Database).session() as session:
                    ...
        """
        self.build()
        return self._lifespan_context()


async def _call_hook(hook: Callable[[], Any]) -> None:
    if inspect.iscoroutinefunction(hook):
        await hook()
    else:
        result = await anyio.to_thread.run_sync(hook)
        if inspect.isawaitable(result):
            await result
