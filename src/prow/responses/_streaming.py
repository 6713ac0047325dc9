"""A response whose body comes from an iterator, sent chunk by chunk as it is produced."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.abc import TaskGroup

from prow._security import app_headers
from prow._types import Receive, Scope, Send
from prow.background import BackgroundTask
from prow.responses._base import Response

__all__ = ["ContentStream", "StreamingResponse"]

T = TypeVar("T")
ContentStream = AsyncIterable[str | bytes] | Iterable[str | bytes]


class _Stop:
    """Marks the end of a sync iterator without letting StopIteration cross a thread."""


_STOP = _Stop()


def _next_or_stop(iterator: Iterator[T]) -> T | _Stop:
    return next(iterator, _STOP)


async def iterate_in_thread(iterable: Iterable[T]) -> AsyncIterator[T]:
    """Iterate a sync iterable with each ``next()`` in a worker thread.

    A generator doing blocking IO (reading a file, querying a sync driver) would
    otherwise freeze every other request on the event loop. Closing this async
    generator closes the sync one too, so its ``finally`` blocks run.
    """
    iterator = iter(iterable)
    try:
        while True:
            item = await anyio.to_thread.run_sync(_next_or_stop, iterator)
            if isinstance(item, _Stop):
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            # Shielded: a cancelled stream must still let the generator clean up.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)


async def aclose_quietly(iterator: AsyncIterator[Any]) -> None:
    """Close an async iterator if it can be closed, even inside a cancelled scope."""
    aclose = getattr(iterator, "aclose", None)
    if aclose is None:
        return
    # Shielded: we usually get here because the client left and our scope was
    # cancelled, and the generator's cleanup (closing a cursor, a file) must still run.
    with anyio.CancelScope(shield=True):
        await aclose()


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Wait for ``http.disconnect`` and then stop the response being streamed."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            scope.cancel()
            return


class StreamingResponse(Response):
    """Send the chunks of a sync or async iterable of ``str``/``bytes`` as they come.

    No ``Content-Length`` is set (the server uses chunked encoding). While streaming,
    the response listens for ``http.disconnect``: when the client goes away the
    iterator is closed at once, so a slow generator does not keep working for nobody.
    A send that fails with ``OSError`` (ASGI 2.4 servers signal a gone client that
    way) ends the stream the same way. The background task runs in every case.
    """

    def __init__(
        self,
        content: ContentStream,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.background = background
        if isinstance(content, AsyncIterable):
            self.body_iterator: AsyncIterator[str | bytes] = aiter(content)
        else:
            self.body_iterator = iterate_in_thread(content)
        # No ``self.body``: the base class then adds no Content-Length.
        self.raw_headers = self._build_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": app_headers(scope, self.raw_headers),
                }
            )
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.body", "body": b""})
            else:
                await self._stream_until_disconnect(receive, send)
        except OSError:
            pass  # the client is gone; nothing more can be sent
        finally:
            await aclose_quietly(self.body_iterator)
        if self.background is not None:
            await self.background()

    async def _stream_until_disconnect(self, receive: Receive, send: Send) -> None:
        failure: Exception | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            try:
                await self._send_body(send, group)
            except Exception as exc:
                # Re-raised bare below: the task group would wrap it in an ExceptionGroup,
                # which error handlers and server logs do not expect.
                failure = exc
            group.cancel_scope.cancel()
        if failure is not None:
            raise failure

    async def _send_body(self, send: Send, group: TaskGroup) -> None:
        """Send every chunk with ``more_body=True``, then the empty final chunk.

        ``group`` is the task group watching for the disconnect; subclasses start
        companions in it (SSE keep-alive pings) that stop when the body ends.
        """
        async for chunk in self.body_iterator:
            body = chunk.encode(self.charset) if isinstance(chunk, str) else chunk
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
