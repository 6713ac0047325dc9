"""``EmailMessage``: one e-mail (text, an HTML alternative, attachments), checked as it is made.

The message is plain data (``to_dict``/``from_dict``) so that a task can carry it to a worker;
``to_mime()`` builds the standard library's :class:`email.message.EmailMessage` a backend sends.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage as MIMEMessage
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from prow._exceptions import HTTPError

__all__ = ["Attachment", "BadHeaderError", "EmailMessage"]

# Headers that the message sets itself from its fields; ``headers=`` may not name them.
_OWN_HEADERS = frozenset({"subject", "from", "to", "cc", "bcc", "reply-to", "content-type"})


class BadHeaderError(HTTPError, ValueError):
    """A header value holds a line break (header injection) or an address does not parse.

    Threat: a subject or an address taken from a form with ``"\\r\\nBcc: victim@..."`` in it
    would add headers (and recipients) of the attacker's choosing. Such values are refused
    before anything is sent; in a request the client gets 400.
    """

    def __init__(self, message: str) -> None:
        super().__init__(400, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message: its name, its bytes and its MIME type."""

    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


def _check_header(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise BadHeaderError(f"the {name} header holds a line break (header injection refused)")
    return value


def _check_address(name: str, value: str) -> str:
    _check_header(name, value)
    parsed = getaddresses([value])
    if len(parsed) != 1 or "@" not in parsed[0][1]:
        raise BadHeaderError(f"{value!r} in {name} is not one e-mail address")
    return value


def _addresses(name: str, values: str | Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):  # to="a@b.example" is one address, not a list of letters
        values = [values]
    return [_check_address(name, value) for value in values]


@dataclass
class EmailMessage:
    """One e-mail: ``body`` (plain text), optional ``html``, attachments and addresses.

    Every address and header is checked when the message is made (and when it is sent):
    line breaks are refused with :class:`BadHeaderError`. ``from_email`` left ``None`` is
    filled in by :class:`~prow.mail.Mail` (``Mail(from_email=...)`` / ``PROW_MAIL_FROM``).
    """

    subject: str = ""
    body: str = ""
    from_email: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse line breaks in headers and malformed addresses (:class:`BadHeaderError`)."""
        _check_header("Subject", self.subject)
        if self.from_email is not None:
            _check_address("From", self.from_email)
        self.to = _addresses("To", self.to)
        self.cc = _addresses("Cc", self.cc)
        self.bcc = _addresses("Bcc", self.bcc)
        self.reply_to = _addresses("Reply-To", self.reply_to)
        for name, value in self.headers.items():
            if not name or any(c in name for c in ":\r\n ") or name.lower() in _OWN_HEADERS:
                raise BadHeaderError(f"{name!r} cannot be set through headers=")
            _check_header(name, value)

    def recipients(self) -> list[str]:
        """Every address the message goes to: To, Cc and Bcc (Bcc is not in the headers)."""
        return [address for address in (*self.to, *self.cc, *self.bcc) if address]

    def attach(
        self, filename: str, content: bytes | str, mimetype: str | None = None
    ) -> Attachment:
        """Attach ``content`` as ``filename``; the type is guessed from the name when left out."""
        _check_header("attachment filename", filename)
        data = content.encode() if isinstance(content, str) else bytes(content)
        guessed = mimetypes.guess_type(filename)[0]
        attachment = Attachment(filename, data, mimetype or guessed or "application/octet-stream")
        self.attachments.append(attachment)
        return attachment

    def attach_file(self, path: str | Path, mimetype: str | None = None) -> Attachment:
        """Attach the file at ``path`` under its own name."""
        file = Path(path)
        return self.attach(file.name, file.read_bytes(), mimetype)

    def to_mime(self, default_from: str | None = None) -> MIMEMessage:
        """The message as the standard library's ``EmailMessage`` (what SMTP sends)."""
        self.check()
        message = MIMEMessage()
        message["Subject"] = self.subject
        message["From"] = self.from_email or default_from or "webmaster@localhost"
        for name, values in (("To", self.to), ("Cc", self.cc), ("Reply-To", self.reply_to)):
            if values:
                message[name] = ", ".join(values)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=_domain(message["From"]))
        for name, value in self.headers.items():
            message[name] = value
        message.set_content(self.body)
        if self.html is not None:
            message.add_alternative(self.html, subtype="html")
        for attachment in self.attachments:
            maintype, _, subtype = attachment.mimetype.partition("/")
            message.add_attachment(
                attachment.content,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return message

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (attachments in base64): what a task carries to a worker."""
        return {
            "subject": self.subject,
            "body": self.body,
            "from_email": self.from_email,
            "to": self.to,
            "cc": self.cc,
            "bcc": self.bcc,
            "reply_to": self.reply_to,
            "html": self.html,
            "headers": self.headers,
            "attachments": [
                [a.filename, base64.b64encode(a.content).decode("ascii"), a.mimetype]
                for a in self.attachments
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmailMessage:
        """The message :meth:`to_dict` described."""
        values = dict(data)
        files: Sequence[Sequence[str]] = values.pop("attachments", ())
        attachments = [Attachment(name, base64.b64decode(b64), kind) for name, b64, kind in files]
        return cls(**values, attachments=attachments)


def _domain(sender: str) -> str:
    try:
        return Address(addr_spec=getaddresses([sender])[0][1]).domain or "localhost"
    except (ValueError, IndexError):
        return "localhost"
