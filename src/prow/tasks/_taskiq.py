"""What the taskiq broker backends share: the wire format of a task and the URL options.

The broker backends (``_redis``, ``_amqp``, ``_nats``) send and receive through taskiq's brokers
(taskiq-redis, taskiq-aio-pika, taskiq-nats). taskiq's own task layer (its decorators, receiver
and middlewares) is not used: prow's core owns the task API, validation, retries and the worker,
and asks a backend only what ``prow.tasks.Backend`` lists. A message crosses the broker as the
JSON of its :class:`~prow.tasks.TaskMessage`, so any backend's worker can read any backend's
message, and a person reading a queue with the broker's own tools sees plain JSON.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from prow._exceptions import ConfigurationError
from prow.tasks._backend import TaskInfo, TaskMessage, TaskState, dump_message, load_message

__all__ = [
    "decode_info",
    "decode_message",
    "encode_info",
    "encode_message",
    "import_extra",
    "next_attempt",
    "number_option",
    "split_options",
]

#: The extra that installs each broker backend's libraries.
EXTRAS = {"redis": "tasks-redis", "amqp": "tasks-rabbitmq", "nats": "tasks-nats"}


def import_extra(module: str, scheme: str) -> Any:
    """Import ``module`` or fail with ``prow.E260`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS[scheme]
        raise ConfigurationError(
            "prow.E260",
            f"the {scheme}:// task backend needs {exc.name or module}; "
            f"install it with: pip install 'prow[{extra}]'",
        ) from exc


def split_options(url: str, known: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Take prow's own options (``known``: name -> default) out of ``url``'s query string.

    Returns the URL left for the broker's client and the options, defaults filled in. An
    option that is not known stays in the URL (the client's own, such as ``ssl_cert_reqs``).
    """
    parts = urlsplit(url)
    options = dict(known)
    rest = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in known:
            options[name] = value
        else:
            rest.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), options


def number_option(options: dict[str, str], name: str, scheme: str) -> float:
    """The option ``name`` as a non-negative number, or ``prow.E261`` naming it."""
    try:
        value = float(options[name])
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigurationError(
            "prow.E261",
            f"the {scheme}:// task backend's option {name}={options[name]!r} is not a "
            "number of seconds (0 or more)",
        )
    return value


def _datetime(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _message_dict(message: TaskMessage) -> dict[str, Any]:
    return json.loads(dump_message(message))  # type: ignore[no-any-return]


def encode_message(message: TaskMessage) -> bytes:
    """The message as the JSON bytes that cross the broker (``prow.tasks.dump_message``)."""
    return dump_message(message).encode()


def decode_message(data: bytes | str) -> TaskMessage:
    """The message from the bytes :func:`encode_message` made."""
    return load_message(data)


def encode_info(info: TaskInfo) -> str:
    """A task's record (state, result, error) as JSON, for the backends' stores."""
    return json.dumps(
        {
            "message": _message_dict(info.message),
            "state": info.state.value,
            "result": info.result,
            "error": info.error,
            "finished_at": info.finished_at.isoformat() if info.finished_at else None,
        },
        separators=(",", ":"),
    )


def decode_info(text: bytes | str) -> TaskInfo:
    """The record :func:`encode_info` made."""
    data = json.loads(text)
    return TaskInfo(
        message=load_message(json.dumps(data["message"])),
        state=TaskState(data["state"]),
        result=data["result"],
        error=data["error"],
        finished_at=_datetime(data["finished_at"]),
    )


def next_attempt(message: TaskMessage, eta: datetime | None) -> TaskMessage:
    """The message of the next attempt: one more attempt made, due at ``eta``."""
    return replace(message, attempts=message.attempts + 1, eta=eta)
