"""Where messages go: the console, an in-memory outbox, or an SMTP server (aiosmtplib).

A backend is chosen by URL (``Mail("smtp://user:pass@mail.example:587")``, ``PROW_MAIL_URL``)
or passed as an object. Every backend implements ``async send(messages) -> int``.
"""

from __future__ import annotations

import sys
import weakref
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from prow._exceptions import ConfigurationError, HTTPError

if TYPE_CHECKING:
    import ssl

    from prow.mail._message import EmailMessage

__all__ = [
    "ConsoleBackend",
    "MailBackend",
    "MailError",
    "MailUnavailable",
    "MemoryBackend",
    "SMTPBackend",
    "backend_from_url",
]

#: Seconds an SMTP backend waits for the server (connecting, and each reply) by default.
DEFAULT_TIMEOUT = 10.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class MailError(Exception):
    """The mail server refused a message (bad credentials, a recipient refused...)."""


class MailUnavailable(HTTPError):
    """The mail server cannot be reached for now (down, refusing, too slow): 503 in a request.

    Raised within the backend's ``timeout``, never a hang; the request that tried to send
    is answered ``503`` with ``Retry-After``.
    """

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__(503, message, {"Retry-After": str(retry_after)})
        self.message = message

    def __str__(self) -> str:
        return self.message


class MailBackend(ABC):
    """Sends messages somewhere; subclass it for another transport (an HTTP mail API...)."""

    @abstractmethod
    async def send(self, messages: Sequence[EmailMessage]) -> int:
        """Send ``messages`` (their ``from_email`` already filled in); the number sent."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to close by default
        """Close what the backend holds open (called when the app stops)."""


class ConsoleBackend(MailBackend):
    """Writes each message, as it would go over the wire, to ``stream`` (standard output).

    The development default: nothing leaves the machine, and the message (links included)
    is in the server's output.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        stream = self.stream or sys.stdout
        for message in messages:
            text = message.to_mime().as_string()
            stream.write(f"{text}\n{'-' * 79}\n")
        stream.flush()
        return len(messages)


#: Every memory backend alive, so that prow's pytest plugin can empty them before each test.
_MEMORY_BACKENDS: weakref.WeakSet[MemoryBackend] = weakref.WeakSet()


class MemoryBackend(MailBackend):
    """Keeps messages in ``outbox`` (a list): the backend of tests.

    prow's pytest plugin makes it the default under pytest (``PROW_MAIL_URL=memory://``) and
    empties every outbox before each test, as Django's test runner does.
    """

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []
        _MEMORY_BACKENDS.add(self)

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        self.outbox.extend(messages)
        return len(messages)


def clear_outboxes() -> None:
    """Empty the outbox of every :class:`MemoryBackend` (prow's pytest plugin, per test)."""
    for backend in list(_MEMORY_BACKENDS):
        backend.outbox.clear()


class SMTPBackend(MailBackend):
    """Sends through an SMTP server with aiosmtplib: one connection per batch of messages.

    ``use_tls`` speaks TLS from the first byte (port 465, ``smtps://``); ``start_tls`` upgrades
    a plain connection (port 587): ``None`` upgrades when the server offers it, ``True``
    insists. ``timeout`` bounds connecting and every reply: a server that is down or hangs
    raises :class:`MailUnavailable` within it.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        validate_certs: bool = True,
        cert_bundle: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        try:
            import aiosmtplib  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "prow.E274",
                "the SMTP mail backend needs aiosmtplib: pip install 'prow[mail]'",
            ) from exc
        self.host = host
        self.port = port if port is not None else (465 if use_tls else 25)
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.cert_bundle = cert_bundle
        self.tls_context = tls_context

    def _client(self) -> Any:
        import aiosmtplib

        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls,
            timeout=self.timeout,
            validate_certs=self.validate_certs,
            cert_bundle=self.cert_bundle,
            tls_context=self.tls_context,
        )

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        import aiosmtplib

        if not messages:
            return 0
        where = f"{self.host}:{self.port}"
        client = self._client()
        try:
            async with client:
                for message in messages:
                    await client.send_message(message.to_mime(), recipients=message.recipients())
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise MailError(f"the SMTP server {where} refused the login: {exc.message}") from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise MailUnavailable(f"cannot reach the SMTP server {where}: {exc}") from exc
        except aiosmtplib.SMTPServerDisconnected as exc:
            raise MailUnavailable(f"the SMTP server {where} hung up: {exc}") from exc
        except aiosmtplib.SMTPException as exc:
            raise MailError(f"the SMTP server {where} refused the message: {exc}") from exc
        return len(messages)

    def __repr__(self) -> str:  # no password in logs
        return f"SMTPBackend(host={self.host!r}, port={self.port!r}, use_tls={self.use_tls!r})"


def _flag(query: dict[str, list[str]], name: str, default: bool | None) -> bool | None:
    values = query.get(name)
    if not values:
        return default
    value = values[-1].lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError("prow.E271", f"the mail URL's {name}={value!r} is not true or false")


def backend_from_url(url: str) -> MailBackend:
    """The backend a mail URL names: ``console://``, ``memory://``, ``smtp://``, ``smtps://``.

    ``smtp://user:password@host:587?starttls=true&timeout=5&verify=false`` (``smtps://`` is
    TLS from the start, port 465 by default); user and password are percent-decoded.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError("prow.E271", f"the mail URL does not parse: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "console":
        return ConsoleBackend()
    if scheme in {"memory", "locmem"}:
        return MemoryBackend()
    if scheme not in {"smtp", "smtps"}:
        raise ConfigurationError(
            "prow.E271",
            f"the mail URL scheme {parts.scheme!r} is unknown: use console://, memory://, "
            "smtp://host:port or smtps://host:port",
        )
    query = parse_qs(parts.query)
    try:
        timeout = float(query.get("timeout", [DEFAULT_TIMEOUT])[-1])
    except ValueError:
        raise ConfigurationError("prow.E271", "the mail URL's timeout is not a number") from None
    return SMTPBackend(
        parts.hostname or "localhost",
        port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=scheme == "smtps",
        start_tls=_flag(query, "starttls", None),
        timeout=timeout,
        validate_certs=bool(_flag(query, "verify", True)),
    )
