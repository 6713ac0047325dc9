"""Typed project settings read from ``PROW_*`` environment variables and ``.env`` files.

::

    from prow import App
    from prow.settings import Settings, app_kwargs, load_settings

    settings = load_settings(Settings)      # a wrong value stops here, naming the variable
    app = App(**app_kwargs(settings))

Values are taken, highest priority first, from keyword arguments, environment variables,
``.env.<PROW_ENV>`` (when ``PROW_ENV`` names an environment), ``.env``, and the field defaults.
Subclass ``Settings`` to add a project's own fields; they are read the same way.

This module is imported only by projects that use it: ``import prow`` never loads
pydantic-settings.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TextIO, TypedDict, TypeVar, overload

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from prow._exceptions import ConfigurationError
from prow._logging import LogFormat, configure_logging

try:
    from pydantic_settings import (
        BaseSettings,
        DotEnvSettingsSource,
        NoDecode,
        PydanticBaseSettingsSource,
        SettingsConfigDict,
    )
    from pydantic_settings.exceptions import SettingsError
except ImportError as exc:  # pragma: no cover - exercised only without the dependency
    raise ImportError(
        "prow.settings needs pydantic-settings 2.7 or later: pip install 'pydantic-settings>=2.7'"
    ) from exc

__all__ = [
    "AppKwargs",
    "CommaList",
    "DatabaseKwargs",
    "Settings",
    "app_kwargs",
    "database_kwargs",
    "load_settings",
    "setup_logging",
]

SettingsT = TypeVar("SettingsT", bound="Settings")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# An environment name becomes part of a file name: keep it to a plain word so that
# PROW_ENV can never point the loader at a path outside the project folder.
_ENV_NAME = re.compile(r"^[A-Za-z0-9_-]{1,50}$")


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _split_list(value: object) -> object:
    """``"a, b"`` → ``["a", "b"]``; a JSON list string is decoded; anything else passes."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            decoded: object = json.loads(text)
        except json.JSONDecodeError:
            return value  # let validation report "should be a valid list"
        return decoded
    return [item.strip() for item in text.split(",") if item.strip()]


def _none_word(value: object) -> object:
    """``none``, ``off`` or an empty value switch a limit off (``None``)."""
    if isinstance(value, str) and value.strip().lower() in ("", "none", "off"):
        return None
    return value


#: Seconds, or ``None`` (written ``none``/``off``) for no limit.
Timeout = Annotated[Annotated[float, Field(gt=0)] | None, BeforeValidator(_none_word)]

#: A ``list[str]`` setting written either comma-separated (``a.com,b.com``) or as a JSON list.
#: pydantic-settings reads list fields as JSON only; use this type for your own list fields.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_list)]


class Settings(BaseSettings):
    """The settings every prow project has; subclass it to add your own.

    Each field ``name`` is read from the environment variable ``PROW_NAME`` (case-insensitive)
    or the same line in ``.env``. ``allowed_hosts`` (like any ``CommaList`` field) accepts
    ``a.com,b.com`` or a JSON list; other list, dict and model fields are read as JSON.
    """

    model_config = SettingsConfigDict(
        env_prefix="PROW_",
        env_file=".env",
        env_file_encoding="utf-8",
        # .env files usually hold other tools' variables too; they are not mistakes.
        extra="ignore",
        validate_default=True,
    )

    #: The project's name: the title of its API documentation (``App(title=...)``).
    title: str = "prow"
    #: Which environment this is; ``production`` also reads ``.env.production``.
    env: str = Field(default="development", pattern=_ENV_NAME.pattern)
    #: Show tracebacks in error answers and readable logs. Never on in production.
    debug: bool = False
    #: Key for signing sessions, CSRF tokens and the like; ``prow check`` insists on it.
    secret_key: SecretStr | None = None
    #: Host names the app answers for; others get 400 (``App(allowed_hosts=...)``).
    allowed_hosts: CommaList = ["localhost", "127.0.0.1", "::1", "testserver"]
    # repr=False: a database URL usually carries a password, and settings objects end up
    # printed in logs, tracebacks and shell sessions.
    #: Where ``prow.db`` connects, e.g. ``postgresql+asyncpg://user:pass@host/db``.
    database_url: str | None = Field(default=None, repr=False)
    #: Seconds to open a database connection before answering 503 (``Database(connect_timeout)``).
    database_connect_timeout: Timeout = 5.0
    #: Seconds to wait for a free pooled connection before answering 503.
    database_pool_timeout: Timeout = 5.0
    #: Seconds one statement may run (SQLite: wait for a lock) before answering 503.
    database_statement_timeout: Timeout = 30.0
    #: Where ``prow.tasks`` keeps tasks: none for the project's database, or a broker URL
    #: (``redis://...``, ``amqp://...``, ``nats://...``) for ``Tasks()`` with no backend.
    tasks_url: str | None = Field(default=None, repr=False)
    #: Connections each worker's pool keeps open; keep ``workers x (pool_size + max_overflow)``
    #: below the server's ``max_connections`` (PostgreSQL's default: 100).
    database_pool_size: int = Field(default=20, ge=1)
    #: Connections opened beyond ``database_pool_size`` in a burst (closed when returned).
    database_max_overflow: int = Field(default=0, ge=0)
    #: ``auto`` writes readable text when ``debug`` is on and JSON lines otherwise.
    log_format: LogFormat = "auto"
    #: The least severe log level written (``DEBUG`` ... ``CRITICAL``), any letter case.
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = "INFO"
    #: Where ``prow.mail`` sends: ``smtp://user:pass@host:587``, ``smtps://...``, ``console://``
    #: (the default when unset) or ``memory://``.
    mail_url: str | None = Field(default=None, repr=False)
    #: The sender of messages that name none (``Mail(from_email=...)``).
    mail_from: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Add ``.env.<environment>`` after ``.env`` when an environment is named."""
        name = _environment_name(init_settings)
        if name is not None and isinstance(dotenv_settings, DotEnvSettingsSource):
            dotenv_settings = _with_environment_file(settings_cls, dotenv_settings, name)
        return init_settings, env_settings, dotenv_settings, file_secret_settings


def _environment_name(init_settings: PydanticBaseSettingsSource) -> str | None:
    init_kwargs: Mapping[str, Any] = getattr(init_settings, "init_kwargs", {})
    name = init_kwargs.get("env", os.environ.get("PROW_ENV"))
    if isinstance(name, str) and _ENV_NAME.fullmatch(name):
        return name
    return None  # a malformed name is reported by the ``env`` field's validation


def _with_environment_file(
    settings_cls: type[BaseSettings], source: DotEnvSettingsSource, name: str
) -> DotEnvSettingsSource:
    files = source.env_file
    if files is None:  # dotenv loading switched off with _env_file=None
        return source
    base = [files] if isinstance(files, str | os.PathLike) else list(files)
    # Later files win: the environment's file overrides the shared .env.
    return DotEnvSettingsSource(
        settings_cls,
        env_file=(*base, f".env.{name}"),
        env_file_encoding=source.env_file_encoding,
        case_sensitive=source.case_sensitive,
        env_prefix=source.env_prefix,
    )


@overload
def load_settings(cls: None = None, /, **overrides: Any) -> Settings: ...
@overload
def load_settings(cls: type[SettingsT], /, **overrides: Any) -> SettingsT: ...


def load_settings(cls: type[Settings] | None = None, /, **overrides: Any) -> Settings:
    """Read settings, turning any bad value into one ``prow.E601`` error naming each variable.

    ``overrides`` are passed to the class as keyword arguments (highest priority). The error
    message never repeats the rejected values: settings hold secrets, and start-up errors end
    up in logs.
    """
    settings_cls = Settings if cls is None else cls
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        lines = _error_lines(settings_cls, exc.errors(include_input=False, include_url=False))
    except SettingsError as exc:
        lines = [_settings_error_line(settings_cls, exc)]
    raise ConfigurationError("prow.E601", "invalid settings\n" + "\n".join(lines))


def _error_lines(cls: type[Settings], errors: Sequence[ErrorDetails]) -> list[str]:
    problems: dict[str, list[str]] = {}
    for error in errors:
        location = error["loc"]
        field = str(location[0]) if location else ""
        where = ".".join(str(part) for part in location[1:])
        problem = f"item {where}: {error['msg']}" if where else error["msg"]
        problems.setdefault(_variable_name(cls, field), []).append(problem)
    return [f"  {name}: {'; '.join(found)}" for name, found in problems.items()]


_PARSE_ERROR = re.compile(r'field "(?P<field>\w+)"')


def _settings_error_line(cls: type[Settings], exc: SettingsError) -> str:
    # pydantic-settings reports undecodable JSON for list/dict fields as SettingsError.
    found = _PARSE_ERROR.search(str(exc))
    if found is None:
        return f"  {exc}"
    return f"  {_variable_name(cls, found['field'])}: not valid JSON ({exc.__cause__ or exc})"


def _variable_name(cls: type[Settings], field: str) -> str:
    """The environment variable a field is read from: ``PROW_`` + the upper-case name."""
    info = cls.model_fields.get(field)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias.upper()
    prefix = cls.model_config.get("env_prefix") or ""
    return f"{prefix}{field}".upper()


class AppKwargs(TypedDict):
    """The ``App`` arguments that come from settings."""

    debug: bool
    database_url: str | None
    secret_key: str | None
    allowed_hosts: list[str]


def app_kwargs(settings: Settings) -> AppKwargs:
    """Keyword arguments for ``App(**app_kwargs(settings), ...)``."""
    secret = settings.secret_key
    return {
        "debug": settings.debug,
        "database_url": settings.database_url,
        "secret_key": None if secret is None else secret.get_secret_value(),
        "allowed_hosts": list(settings.allowed_hosts),
    }


class DatabaseKwargs(TypedDict):
    """The ``Database``/``use_database`` arguments that come from settings."""

    connect_timeout: float | None
    pool_timeout: float | None
    statement_timeout: float | None
    pool_size: int
    max_overflow: int


def database_kwargs(settings: Settings) -> DatabaseKwargs:
    """Keyword arguments for ``Database(url, **database_kwargs(settings))``.

    An app made by :func:`prow.apps.create_app` needs no call: its ``Database`` reads
    these from the settings the app keeps, unless it was given timeouts of its own.
    """
    return {
        "connect_timeout": settings.database_connect_timeout,
        "pool_timeout": settings.database_pool_timeout,
        "statement_timeout": settings.database_statement_timeout,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
    }


def setup_logging(settings: Settings, *, stream: TextIO | None = None) -> logging.Handler:
    """Send log records to ``stream`` (stderr) as ``log_format``, ``log_level`` and ``debug`` say.

    ``auto`` means readable text when ``debug`` is on, one JSON object per line otherwise.
    Calling it again replaces the handler it installed; the handler is returned.
    """
    return configure_logging(
        settings.log_format, settings.log_level, debug=settings.debug, stream=stream
    )
