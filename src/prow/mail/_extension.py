"""``Mail``, the extension that sends an app's e-mail, and ``send_mail``, the one-call front.

The backend comes from, in order: ``Mail(backend)``, the app's settings (``mail_url``),
``$PROW_MAIL_URL``, else the console. Sending goes through a task when the app has
``prow.tasks``' extension (the request does not wait for the mail server, and a failed send is
retried); without it the backend is called directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prow._exceptions import ConfigurationError
from prow.extensions import Extension
from prow.mail._backends import ConsoleBackend, MailBackend, MemoryBackend, backend_from_url
from prow.mail._message import Attachment, EmailMessage

if TYPE_CHECKING:
    from prow._app import App
    from prow._request import HTTPConnection
    from prow.templating import Templates

__all__ = ["Mail", "send_mail"]

DEFAULT_FROM = "webmaster@localhost"


class Mail(Extension):
    """Sends the app's e-mail through one backend; reach it as ``app.extension(Mail)``.

    ``backend`` is a URL (``"smtp://user:pass@host:587"``, ``"console://"``, ``"memory://"``)
    or a :class:`~prow.mail.MailBackend`; left out, the settings choose (``PROW_MAIL_URL``).
    ``from_email`` is the sender of messages that name none (``PROW_MAIL_FROM``).
    ``templates`` renders ``html_template``/``text_template``; left out, the app's own
    :class:`~prow.templating.Templates` extension does. ``use_tasks=False`` sends in the
    request even when the app has ``prow.tasks``.
    """

    def __init__(
        self,
        backend: str | MailBackend | None = None,
        *,
        from_email: str | None = None,
        templates: Templates | str | Path | None = None,
        use_tasks: bool = True,
    ) -> None:
        if backend is not None and not isinstance(backend, str | MailBackend):
            raise ConfigurationError(
                "prow.E272",
                f"Mail(backend=...) got {type(backend).__name__}: pass a mail URL or a "
                "MailBackend (ConsoleBackend(), MemoryBackend(), SMTPBackend(...))",
            )
        self._given = backend
        self._from_email = from_email
        self._templates = templates
        self.use_tasks = use_tasks
        self.backend: MailBackend = (
            backend if isinstance(backend, MailBackend) else ConsoleBackend()
        )
        self.from_email = from_email or DEFAULT_FROM
        self._app: App | None = None

    def setup(self, app: App) -> None:
        """Choose the backend and the sender from the arguments, then settings, then env."""
        self._app = app
        settings: Any = app.state.settings if "settings" in app.state else None
        url = self._given if isinstance(self._given, str) else None
        if self._given is None:
            url = getattr(settings, "mail_url", None) or os.environ.get("PROW_MAIL_URL")
        if url:
            self.backend = backend_from_url(url)
        sender = self._from_email or getattr(settings, "mail_from", None)
        self.from_email = sender or os.environ.get("PROW_MAIL_FROM") or DEFAULT_FROM
        EmailMessage(from_email=self.from_email)  # a malformed sender fails at start-up
        if self.use_tasks and _has_tasks(app):
            import prow.mail._task  # noqa: F401 - defines the prow.mail.send task for workers

    async def release(self, app: App) -> None:
        await self.backend.close()

    @property
    def outbox(self) -> list[EmailMessage]:
        """The messages sent so far, with the memory backend (tests); emptied before each test."""
        if not isinstance(self.backend, MemoryBackend):
            raise ConfigurationError(
                "prow.E273",
                f"mail.outbox needs the memory backend, and this app sends with "
                f"{type(self.backend).__name__}: use Mail('memory://') or PROW_MAIL_URL=memory://",
            )
        return self.backend.outbox

    # -- building messages -------------------------------------------------------------------

    def render(self, template: str, context: Mapping[str, Any] | None = None) -> str:
        """Render the template ``template`` with ``context`` (no request: pass full URLs)."""
        templates = self._find_templates()
        return templates.get_template(template).render(dict(context or {}))

    def _find_templates(self) -> Templates:
        from prow.templating import Templates

        if isinstance(self._templates, Templates):
            return self._templates
        if self._templates is not None:
            self._templates = Templates(self._templates)
            return self._templates
        app = self._app
        found = [e for e in (app.extensions if app else ()) if isinstance(e, Templates)]
        if not found:
            raise ConfigurationError(
                "prow.E275",
                "an e-mail template needs templates: install Templates(directory=...) on the "
                "app, or pass Mail(templates='templates')",
            )
        return found[0]

    def message(
        self,
        subject: str,
        body: str = "",
        *,
        to: str | Iterable[str] = (),
        from_email: str | None = None,
        cc: str | Iterable[str] = (),
        bcc: str | Iterable[str] = (),
        reply_to: str | Iterable[str] = (),
        html: str | None = None,
        html_template: str | None = None,
        text_template: str | None = None,
        context: Mapping[str, Any] | None = None,
        attachments: Sequence[Attachment] = (),
        headers: Mapping[str, str] | None = None,
    ) -> EmailMessage:
        """An :class:`EmailMessage`, its bodies rendered from templates when named.

        With only an HTML body, the text body is the HTML's text (for mail readers that show
        no HTML).
        """
        if html_template is not None:
            html = self.render(html_template, context)
        if text_template is not None:
            body = self.render(text_template, context)
        if not body and html is not None:
            body = html_to_text(html)
        return EmailMessage(
            subject=subject,
            body=body,
            from_email=from_email,
            to=_listed(to),
            cc=_listed(cc),
            bcc=_listed(bcc),
            reply_to=_listed(reply_to),
            html=html,
            headers=dict(headers or {}),
            attachments=list(attachments),
        )

    # -- sending -------------------------------------------------------------------------------

    async def send(self, *messages: EmailMessage) -> int:
        """Send ``messages``: through a task when the app has ``prow.tasks``, else now.

        Returns how many were sent (or queued). The sender of a message that names none is
        :attr:`from_email`.
        """
        ready = [self._ready(message) for message in messages]
        if not ready:
            return 0
        if self.use_tasks and self._app is not None and _has_tasks(self._app):
            from prow.mail._task import enqueue_messages

            return await enqueue_messages(ready)
        return await self.backend.send(ready)

    async def send_now(self, *messages: EmailMessage) -> int:
        """Send ``messages`` through the backend in this call, never through a task."""
        return await self.backend.send([self._ready(message) for message in messages])

    def _ready(self, message: EmailMessage) -> EmailMessage:
        message.check()
        if message.from_email is None:
            return replace(message, from_email=self.from_email)
        return message

    def __repr__(self) -> str:
        return f"Mail(backend={self.backend!r})"


def _has_tasks(app: App) -> bool:
    """Whether ``app`` has prow.tasks' extension (without importing prow.tasks)."""
    import sys

    tasks = sys.modules.get("prow.tasks")
    kind = getattr(tasks, "Tasks", None)
    return kind is not None and app.has_extension(kind)


def _listed(values: str | Iterable[str]) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


class _TextOf(HTMLParser):
    """The text of an HTML document: paragraphs and line breaks kept, scripts and styles not."""

    _BLOCKS = frozenset({"p", "div", "br", "h1", "h2", "h3", "h4", "li", "tr", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head", "title"}:
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        if tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head", "title"}:
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self._href:
            href = self._href.pop()
            if href and not href.startswith("#"):
                self.parts.append(f" ({href})")  # the link stays usable in plain text

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """A plain-text version of ``html``: what a text-only mail reader shows."""
    parser = _TextOf()
    parser.feed(html)
    lines = [re.sub(" +", " ", line).strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip() + "\n"


async def send_mail(
    app: App | HTTPConnection,
    subject: str,
    body: str = "",
    *,
    to: str | Iterable[str],
    from_email: str | None = None,
    cc: str | Iterable[str] = (),
    bcc: str | Iterable[str] = (),
    reply_to: str | Iterable[str] = (),
    html: str | None = None,
    html_template: str | None = None,
    text_template: str | None = None,
    context: Mapping[str, Any] | None = None,
    attachments: Sequence[Attachment] = (),
    headers: Mapping[str, str] | None = None,
) -> int:
    """Send one message with ``app``'s :class:`Mail` (pass the app or the request).

    As Django's ``send_mail``: returns 1 when the message was sent (or queued). HTML bodies
    come from ``html`` or the template ``html_template`` rendered with ``context``.
    """
    target: Any = app
    owner: App = target if hasattr(target, "extensions") else target.app
    if not owner.has_extension(Mail):
        raise ConfigurationError(
            "prow.E270",
            "send_mail() on an app without Mail: install it, App(extensions=[Mail()]) "
            "(the settings' mail_url chooses the backend)",
        )
    mail = owner.extension(Mail)
    message = mail.message(
        subject,
        body,
        to=to,
        from_email=from_email,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
        html=html,
        html_template=html_template,
        text_template=text_template,
        context=context,
        attachments=attachments,
        headers=headers,
    )
    return await mail.send(message)
