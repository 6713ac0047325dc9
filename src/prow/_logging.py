"""Log output for development (readable text) and production (one JSON object per line).

Threat model: logs are copied to terminals, files, log services and support tickets, and are
read by more people than the app's data. Text written into a log line can also forge other
lines. So prow's formatters escape control characters in messages (a ``\\n`` in a requested
path cannot start a fake log line), and prow itself never logs request bodies, cookies or
``Authorization`` headers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from prow._exceptions import ConfigurationError

__all__ = [
    "REQUEST_ID",
    "JSONFormatter",
    "LogFormat",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "escape_controls",
    "resolve_format",
]

LogFormat = Literal["auto", "text", "json"]

_FORMATS = ("auto", "text", "json")
_HANDLER_NAME = "prow"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}  # uvicorn adds color_message
)

# Control characters become visible escapes, so logged text stays on its own line.
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}
_CONTROLS |= {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}

_COLOURS = {
    "DEBUG": "\x1b[2m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;31m",
}
_RESET = "\x1b[0m"


#: The id of the request being served, set by ``prow.observability`` (``logs=True``).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "prow.request_id", default=None
)


class RequestIdFilter(logging.Filter):
    """Gives each record made while a request is served a ``request_id`` attribute.

    A handler filter (it sees every record the handler writes, whichever logger made it);
    it never refuses a record. ``configure_logging`` puts one on its handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__:
            current = REQUEST_ID.get()
            if current is not None:
                record.request_id = current
        return True


def escape_controls(text: str) -> str:
    """``text`` with newlines and other control characters written as escapes."""
    return text.translate(_CONTROLS)


def resolve_format(format: str, debug: bool) -> Literal["text", "json"]:
    """``"auto"`` becomes text when debugging, JSON otherwise; a wrong name is ``prow.E602``."""
    if format == "auto":
        return "text" if debug else "json"
    if format == "text":
        return "text"
    if format == "json":
        return "json"
    raise ConfigurationError(
        "prow.E602", f"log format must be one of {', '.join(_FORMATS)}, not {format!r}"
    )


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What the caller attached with ``extra=``."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }


def _message(record: logging.LogRecord) -> str:
    # A mapping logged as the message is structured data; its "message" is the readable part.
    if isinstance(record.msg, Mapping) and "message" in record.msg:
        return str(record.msg["message"])
    return record.getMessage()


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the ``extra`` fields, and
    ``exception`` when there is one. A mapping logged as the message is merged in."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(extra_fields(record))
        if isinstance(record.msg, Mapping):
            payload.update(record.msg)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii: every byte of the line is plain ASCII, whatever the log pipeline.
        return json.dumps(payload, default=str, ensure_ascii=True)


class TextFormatter(logging.Formatter):
    """``12:00:01.123 INFO  prow.access  GET / 200 1.2ms ...``, level coloured if ``colour``."""

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        time = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        level = f"{record.levelname:<7}"
        if self.colour:
            level = f"{_COLOURS.get(record.levelname, '')}{level}{_RESET}"
        line = f"{time}.{int(record.msecs):03d} {level} {record.name}  "
        line += escape_controls(_message(record))
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def _wants_colour(stream: TextIO) -> bool:
    # https://no-color.org: an empty NO_COLOR does not count.
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(
    format: str = "auto",
    level: str | int = "INFO",
    *,
    debug: bool = False,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send all log records at ``level`` and above to ``stream`` (stderr) in ``format``.

    ``"text"`` is for people (colour only on a terminal), ``"json"`` for log collectors,
    ``"auto"`` picks text when ``debug`` else JSON. Calling it again replaces the handler it
    installed before rather than adding a second one. Returns the handler.
    """
    chosen = resolve_format(format, debug)
    numeric = _level_number(level)
    output = sys.stderr if stream is None else stream
    handler = logging.StreamHandler(output)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    if chosen == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(TextFormatter(colour=_wants_colour(output)))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ConfigurationError(
            "prow.E603",
            f"log level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}",
        )
    return number
