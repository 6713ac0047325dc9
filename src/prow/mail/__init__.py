"""E-mail: ``send_mail``, ``EmailMessage`` and ``Mail``, the extension whose backend sends them.

::

    from prow import App, Request
    from prow.mail import Mail, send_mail

    app = App(extensions=[Mail()])      # the backend: PROW_MAIL_URL (smtp://...), else console

    @app.post("/welcome")
    async def welcome(request: Request) -> dict[str, int]:
        sent = await send_mail(request, "Welcome", "Hello!", to=["ada@example.com"])
        return {"sent": sent}

Backends: the console (development default), an in-memory outbox (``app.extension(Mail).outbox``;
the default under pytest, emptied before each test) and SMTP through aiosmtplib
(``pip install 'prow[mail]'``). With ``prow.tasks`` installed, mail is sent by a task.
"""

from prow.mail._backends import (
    ConsoleBackend,
    MailBackend,
    MailError,
    MailUnavailable,
    MemoryBackend,
    SMTPBackend,
    backend_from_url,
)
from prow.mail._extension import Mail, html_to_text, send_mail
from prow.mail._message import Attachment, BadHeaderError, EmailMessage

__all__ = [
    "Attachment",
    "BadHeaderError",
    "ConsoleBackend",
    "EmailMessage",
    "Mail",
    "MailBackend",
    "MailError",
    "MailUnavailable",
    "MemoryBackend",
    "SMTPBackend",
    "backend_from_url",
    "html_to_text",
    "send_mail",
]
