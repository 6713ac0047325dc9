"""The exceptions prow raises and lets users raise.

::

    Exception
    ├── HTTPError                  an HTTP error answer (4xx/5xx) a handler or prow raises
    │   └── RequestValidationError the request did not match the handler's parameters (422)
    ├── WebSocketDisconnect        the client closed the websocket
    ├── WebSocketError             a handler closed a websocket with a code and reason
    └── ConfigurationError         the app is set up wrongly; raised at start-up with a code
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from prow._codes import docs_link

__all__ = [
    "ConfigurationError",
    "HTTPError",
    "RequestValidationError",
    "WebSocketDisconnect",
    "WebSocketError",
]


class HTTPError(Exception):
    """Stop handling and answer with ``status`` and a problem+json body carrying ``detail``."""

    def __init__(
        self,
        status: int,
        detail: Any = None,
        headers: Mapping[str, str] | None = None,
        *,
        title: str | None = None,
        type: str = "about:blank",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        self.status = status
        self.title = title or phrase
        self.detail = phrase if detail is None else detail
        self.headers = dict(headers) if headers else None
        self.type = type
        #: Members added to the problem document; empty (never ``None``) when there are none.
        self.extra: dict[str, Any] = dict(extra) if extra else {}
        super().__init__(status, self.detail)

    @property
    def status_code(self) -> int:
        """The status, under the name Starlette and FastAPI users reach for."""
        return self.status

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 problem document for this error."""
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.extra:
            body.update(self.extra)
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, detail={self.detail!r})"


class RequestValidationError(HTTPError):
    """The request failed validation; ``errors`` has one entry per bad field."""

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = [dict(e) for e in errors]
        count = len(self.errors)
        super().__init__(
            422,
            f"{count} invalid field{'s' if count != 1 else ''} in the request",
            title="Request validation failed",
            type="https://prow.dev/problems/validation-error",
            extra={"errors": self.errors},
        )


class WebSocketDisconnect(Exception):
    """The client closed the connection; ``code`` is the close code it sent."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)


class WebSocketError(Exception):
    """Raise in a websocket handler to close the connection with ``code`` and ``reason``."""

    def __init__(self, code: int = 1008, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""
        super().__init__(code, self.reason)


class ConfigurationError(Exception):
    """The application is set up wrongly. ``code`` is stable (``prow.E007``) for searching.

    ``str(error)`` is ``code: message (see docs/errors.md#prow-e007)``: the reader who has
    only a log line or a terminal learns where the code is explained. A battery of another
    package may raise it with its own codes (``myext.E001``); those get no link.
    """

    def __init__(self, code: str, message: str) -> None:
        docs = docs_link(code)
        # A prow code missing from the registry is prow's bug: caught by the tests (asserts
        # are on there), while an optimised production run still reports the user's mistake.
        assert docs is not None or not code.startswith("prow."), f"unregistered code {code}"
        self.code = code
        self.message = message
        #: Where the code is explained, ``None`` for a code prow does not register.
        self.docs = docs
        super().__init__(_describe(code, message, docs))


def _describe(code: str, message: str, docs: str | None) -> str:
    """The text of a configuration error; the link ends its first line (the one CLIs show)."""
    if docs is None:
        return f"{code}: {message}"
    first, newline, rest = message.partition("\n")
    return f"{code}: {first.rstrip('.')} (see {docs}){newline}{rest}"
