"""uvicorn's httptools protocol with a deadline and a size limit on request heads.

Its own module because importing it needs httptools (``prow[server]`` installs it); see
``_protocols`` for the threat and the limits.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _UvicornHttpTools

from prow.cli._protocols import HeadLimits

__all__ = ["HttpToolsProtocol"]


class HttpToolsProtocol(HeadLimits, _UvicornHttpTools):
    """uvicorn's httptools protocol; a head starts and ends with httptools' callbacks."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted once parsed: a chunk that completes the head (and may carry a large body)
        # is not head; one that leaves it incomplete is, all of it.
        if self._head_deadline is not None and not self.transport.is_closing():
            self._head_received(len(data))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_started()

    def on_headers_complete(self) -> None:
        self._head_finished()
        super().on_headers_complete()
