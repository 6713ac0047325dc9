"""Every exception and warning prow raises that you may catch, handle or raise yourself.

::

    Exception
    ├── HTTPError                       an HTTP error answer (4xx/5xx) a handler or prow raises
    │   ├── RequestValidationError      the request did not match the handler's parameters (422)
    │   │   └── AccountError            prow.auth: a username or e-mail address is refused (422)
    │   ├── CacheUnavailable            prow.cache: the cache is down and set to fail (503)
    │   ├── ChannelsUnavailable         prow.channels: the pub/sub backend is down for now (503)
    │   ├── BadHeaderError              prow.mail: a line break in a mail header (400; a ValueError)
    │   └── MailUnavailable             prow.mail: the mail server cannot be reached now (503)
    ├── ConfigurationError              the app is set up wrongly; ``.code`` is a stable prow.E...
    ├── WebSocketDisconnect             the client closed the websocket (``.code``, ``.reason``)
    ├── WebSocketError                  raise it to close a websocket with a code and a reason
    ├── ClientDisconnect                the client went away before the request body was read
    ├── ResponseValidationError         a handler returned data its response type refuses (500)
    ├── TokenError                      prow.auth: a token was refused (expired, tampered...)
    ├── MigrationError                  prow.db: a migration command could not run
    ├── RateLimitStoreError             prow.ratelimit: the store failed and fails closed (503)
    ├── SessionStoreUnavailable         prow.sessions: the session store is down for now (503)
    ├── MailError                       prow.mail: the mail server refused a message or the login
    ├── TaskFailed                      prow.tasks: the awaited task failed its last attempt
    ├── ValueError
    │   ├── InvalidCookie               a cookie name, value or attribute browsers would refuse
    │   ├── ChannelError                prow.channels: a bad channel name or event id (400)
    │   └── PasswordError               prow.auth: a password breaks the strength rules (422)
    ├── TypeError
    │   └── TaskArgumentsError          prow.tasks: enqueue() got arguments the task refuses
    ├── RuntimeError
    │   ├── SessionTooLarge             prow.sessions: a cookie session grew past 4 KB
    │   └── SlowSubscriber              prow.channels: a subscriber fell too far behind
    ├── sqlalchemy.exc.OperationalError
    │   └── DatabaseUnavailable         prow.db: the database cannot be reached for now (503)
    ├── sqlalchemy.exc.DataError
    │   ├── ValueTooLong                prow.db: a string does not fit its String(n) column (422)
    │   └── InvalidValue                prow.db: a value the database refuses (out of range...; 422)
    ├── click.ClickException
    │   └── CLIError                    prow.cli: a mistake a command reports as one line
    └── httpx.Response
        └── WebSocketDenialResponse     prow.testing: the app refused a websocket handshake

    Warning
    └── UserWarning
        └── MigrationWarning            prow.db: a written migration is likely to fail

The classes marked with a battery (``prow.auth``, ``prow.db``...) live in that battery and are
imported from it on first use here, so ``import prow.exceptions`` stays as cheap as
``import prow``: naming ``prow.exceptions.DatabaseUnavailable`` imports SQLAlchemy, importing
this module does not.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from prow._cookies import InvalidCookie
from prow._exceptions import (
    ConfigurationError,
    HTTPError,
    RequestValidationError,
    WebSocketDisconnect,
    WebSocketError,
)
from prow._request import ClientDisconnect
from prow._routing._render import ResponseValidationError

if TYPE_CHECKING:
    from prow.auth import AccountError, PasswordError, TokenError
    from prow.cache import CacheUnavailable
    from prow.channels import ChannelError, ChannelsUnavailable, SlowSubscriber
    from prow.cli import CLIError
    from prow.db import (
        DatabaseUnavailable,
        InvalidValue,
        MigrationError,
        MigrationWarning,
        ValueTooLong,
    )
    from prow.mail import BadHeaderError, MailError, MailUnavailable
    from prow.ratelimit import RateLimitStoreError
    from prow.sessions import SessionStoreUnavailable, SessionTooLarge
    from prow.tasks import TaskArgumentsError, TaskFailed
    from prow.testing import WebSocketDenialResponse

__all__ = [
    "AccountError",
    "BadHeaderError",
    "CLIError",
    "CacheUnavailable",
    "ChannelError",
    "ChannelsUnavailable",
    "ClientDisconnect",
    "ConfigurationError",
    "DatabaseUnavailable",
    "HTTPError",
    "InvalidCookie",
    "InvalidValue",
    "MailError",
    "MailUnavailable",
    "MigrationError",
    "MigrationWarning",
    "PasswordError",
    "RateLimitStoreError",
    "RequestValidationError",
    "ResponseValidationError",
    "SessionStoreUnavailable",
    "SessionTooLarge",
    "SlowSubscriber",
    "TaskArgumentsError",
    "TaskFailed",
    "TokenError",
    "ValueTooLong",
    "WebSocketDenialResponse",
    "WebSocketDisconnect",
    "WebSocketError",
]

# The batteries' classes: name -> the public package that defines it, imported on first use.
_LAZY = {
    "AccountError": "prow.auth",
    "BadHeaderError": "prow.mail",
    "MailError": "prow.mail",
    "MailUnavailable": "prow.mail",
    "CLIError": "prow.cli",
    "CacheUnavailable": "prow.cache",
    "ChannelError": "prow.channels",
    "ChannelsUnavailable": "prow.channels",
    "SlowSubscriber": "prow.channels",
    "DatabaseUnavailable": "prow.db",
    "InvalidValue": "prow.db",
    "MigrationError": "prow.db",
    "MigrationWarning": "prow.db",
    "PasswordError": "prow.auth",
    "RateLimitStoreError": "prow.ratelimit",
    "SessionStoreUnavailable": "prow.sessions",
    "SessionTooLarge": "prow.sessions",
    "TaskArgumentsError": "prow.tasks",
    "TaskFailed": "prow.tasks",
    "TokenError": "prow.auth",
    "ValueTooLong": "prow.db",
    "WebSocketDenialResponse": "prow.testing",
}


def __getattr__(name: str) -> Any:
    package = _LAZY.get(name)
    if package is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(package), name)
    globals()[name] = value  # the next lookup skips this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
