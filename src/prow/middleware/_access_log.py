"""An access log: one record per HTTP request, with its request id and timing.

Threat model: logs travel further than the data they describe (files, log services, support
tickets), so a record holds only the method, path, status, duration, client address and request
id. Request bodies, query strings, cookies and ``Authorization`` headers are never logged: they
carry passwords, session ids, tokens and reset links. The request id a client sends is trusted
only when it is a short plain token; anything else (CR/LF that could forge log lines or response
headers, overlong values that could flood storage) is replaced by a fresh id.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from prow._errors import UNHANDLED
from prow._exceptions import ConfigurationError
from prow._logging import escape_controls, resolve_format
from prow._types import ASGIApp, Message, Receive, Scope, Send
from prow.middleware._headers import copy_headers, set_header

__all__ = ["AccessLogMiddleware"]

_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,200}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,100}")


class _JSONMessage(dict[str, Any]):
    """A record message that prints as a JSON object and stays a mapping for formatters."""

    def __str__(self) -> str:
        return json.dumps(self, default=str, ensure_ascii=True)


class _Exchange:
    """What the middleware learns from the app's send calls."""

    __slots__ = ("_header", "finished", "request_id", "send", "status")

    def __init__(self, send: Send, header: bytes, request_id: str) -> None:
        self.send = send
        self.request_id = request_id
        self.status: int | None = None
        self.finished: float | None = None
        self._header = header

    async def forward(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            headers = copy_headers(message.get("headers"))
            set_header(headers, self._header, self.request_id.encode("ascii"))
            message = {**message, "headers": headers}
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.finished = time.perf_counter()
        await self.send(message)


class AccessLogMiddleware:
    """Log every HTTP request once its response is sent, and give it a request id.

    The id comes from the ``request_id_header`` request header when that is a plain token
    (letters, digits, ``.``, ``_``, ``-``; at most 200), otherwise it is a new random hex id.
    It is echoed in the same response header and stored as ``request.state.request_id``.

    Records go to the ``logger_name`` logger at INFO (ERROR for 5xx answers) with the fields
    ``method``, ``path``, ``status``, ``duration_ms``, ``client``, ``request_id`` (and ``error``,
    the exception's class name, when the app raised). ``format`` shapes the message itself:
    ``"text"`` a readable line, ``"json"`` a JSON object (for log setups that print only the
    message), ``"auto"`` text when the app runs with ``debug=True``, JSON otherwise. prow's
    own formatters (``configure_logging``) print either kind properly.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger_name: str = "prow.access",
        format: str = "auto",
        request_id_header: str = "X-Request-ID",
    ) -> None:
        resolve_format(format, debug=False)  # refuse a wrong name now, not per request
        if not _HEADER_NAME.fullmatch(request_id_header):
            raise ConfigurationError(
                "prow.E604", f"request_id_header must be a header name, not {request_id_header!r}"
            )
        self.app = app
        self.logger = logging.getLogger(logger_name)
        self.format = format
        self.header = request_id_header.lower().encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        exchange = _Exchange(send, self.header, request_id)
        error: str | None = None
        # prow answers an unhandled error itself and reports it here instead of raising it.
        unhandled: list[BaseException] = scope.setdefault(UNHANDLED, [])
        try:
            await self.app(scope, receive, exchange.forward)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            if error is None and unhandled:
                error = type(unhandled[-1]).__name__
            ended = exchange.finished or time.perf_counter()
            self.log(scope, exchange, (ended - started) * 1000, error)

    def request_id(self, scope: Scope) -> str:
        """The client's id when it is a plain token, else a fresh one."""
        for name, value in scope["headers"]:
            if name == self.header:
                if _REQUEST_ID.fullmatch(value):
                    return str(value.decode("ascii"))
                break
        return uuid.uuid4().hex

    def log(self, scope: Scope, exchange: _Exchange, duration_ms: float, error: str | None) -> None:
        """Write the record for one finished request."""
        # No response started means the server answers 500 (or the client went away).
        status = exchange.status if exchange.status is not None else 500
        level = logging.ERROR if status >= 500 else logging.INFO
        if not self.logger.isEnabledFor(level):
            return
        client = scope.get("client")
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(duration_ms, 2),
            "client": client[0] if client else None,
            "request_id": exchange.request_id,
        }
        if error is not None:
            fields["error"] = error
        self.logger.log(level, self.message(scope, fields), extra=fields)

    def message(self, scope: Scope, fields: dict[str, Any]) -> str | dict[str, Any]:
        """The record's message in this middleware's format."""
        debug = bool(getattr(scope.get("app"), "debug", False))
        line = escape_controls(
            f"{fields['method']} {fields['path']} {fields['status']} "
            f"{fields['duration_ms']:.1f}ms client={fields['client'] or '-'} "
            f"id={fields['request_id']}"
        )
        if "error" in fields:
            line += f" error={fields['error']}"
        if resolve_format(self.format, debug) == "text":
            return line
        return _JSONMessage(fields, message=line)
