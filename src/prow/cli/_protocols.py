"""uvicorn's HTTP/1.1 protocols with a deadline and a size limit on each request's head.

Threat: slowloris and oversized heads. uvicorn bounds the idle time between two requests
(``timeout_keep_alive``) but not the time a client takes to send a request line and its
headers: a client that sends one byte every few seconds keeps a connection (a file
descriptor, a parser, a slot under ``limit_concurrency``) forever, and a few thousand such
clients exhaust the server. With httptools it also buffers a head of any size (an 8 MB
header was accepted). These subclasses answer 408 (and close) when a head is not complete
``head_timeout`` seconds after its first byte, or after the connection opened; and 431 (and
close) when a head grows past ``max_head_size`` bytes (at most one more read is buffered).

``prow serve`` and ``prow run`` pass one of them to uvicorn as
``http=functools.partial(protocol(), head_timeout=..., max_head_size=...)``: uvicorn calls
its protocol class with keyword arguments only, and a partial of an importable class
pickles, so every worker process gets the same limits. The httptools one (``_httptools``)
is used when httptools is installed, as uvicorn itself prefers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol as _UvicornH11Protocol

__all__ = ["DEFAULT_HEAD_TIMEOUT", "DEFAULT_MAX_HEAD_SIZE", "H11Protocol", "HeadLimits", "protocol"]

#: Seconds a client has to send a request line and its headers.
DEFAULT_HEAD_TIMEOUT = 10
#: Bytes a request line and its headers may take together (cookies included).
DEFAULT_MAX_HEAD_SIZE = 64 * 1024

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class HeadLimits:
    """The deadline and the byte count of the request head being read, for either parser.

    A subclass calls :meth:`_head_started` when a head begins, :meth:`_head_finished` when
    it is complete, and :meth:`_head_received` with each chunk that belongs to a head.
    """

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    server_state: Any

    def __init__(
        self,
        *args: Any,
        head_timeout: float = DEFAULT_HEAD_TIMEOUT,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._setup_limits(head_timeout, max_head_size)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._head_started()  # the first request must arrive in time too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_limits()
        super().connection_lost(exc)  # type: ignore[misc]

    def _setup_limits(self, head_timeout: float, max_head_size: int) -> None:
        self.head_timeout = head_timeout
        self.max_head_size = max_head_size
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def _head_started(self) -> None:
        if self._head_deadline is None:
            self._head_bytes = 0
            self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _head_finished(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self._head_bytes = 0

    def _head_received(self, size: int) -> None:
        """Count ``size`` more bytes of head; refuse the request (431) past the limit."""
        self._head_bytes += size
        if self._head_bytes > self.max_head_size:
            self._head_finished()
            self._refuse(431, f"request headers larger than {self.max_head_size} bytes")

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self._head_bytes == 0:  # nothing of a request arrived: close like an idle keep-alive
            self.transport.close()
            return
        self._refuse(408, f"request headers not received within {self.head_timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode("ascii")
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        lines += [name + b": " + value + b"\r\n" for name, value in _default_headers(self)]
        lines += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(lines))
        self.transport.close()

    def _stop_limits(self) -> None:
        self._head_finished()


def _default_headers(protocol: Any) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = getattr(protocol.server_state, "default_headers", [])
    return headers


class H11Protocol(HeadLimits, _UvicornH11Protocol):
    """uvicorn's h11 protocol with a deadline on request heads.

    h11 bounds the head's size itself (``h11_max_incomplete_event_size``, which prow sets
    to ``max_head_size``); it has no callback when a head starts, so the deadline runs while
    h11 is waiting for a request after bytes of one arrived.
    """

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self._stop_limits()
        elif self._waiting_for_head():
            self._head_started()
            self._head_received(len(data))
        else:
            self._head_finished()

    def _waiting_for_head(self) -> bool:
        import h11

        return self.conn.their_state is h11.IDLE


def protocol() -> Callable[..., asyncio.Protocol]:
    """The protocol class uvicorn would choose (httptools if installed), with the limits."""
    try:
        from prow.cli._httptools import HttpToolsProtocol
    except ImportError:  # pragma: no cover - prow[server] installs httptools
        return H11Protocol
    return HttpToolsProtocol
