"""prow.mail: messages, header injection, backends chosen by settings, templates, send_mail."""

from __future__ import annotations

import io
import os
from email import message_from_bytes
from email.message import EmailMessage as MIMEMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest

from prow import App, ConfigurationError, Request
from prow.apps import create_app
from prow.mail import (
    BadHeaderError,
    ConsoleBackend,
    EmailMessage,
    Mail,
    MemoryBackend,
    SMTPBackend,
    backend_from_url,
    send_mail,
)
from prow.settings import Settings
from prow.templating import Templates
from prow.testing import TestClient


def parsed(message: EmailMessage) -> MIMEMessage:
    raw = message.to_mime().as_bytes()
    result = message_from_bytes(raw, policy=default_policy)
    assert isinstance(result, MIMEMessage)
    return result


def test_a_message_with_text_html_attachments_and_every_address() -> None:
    message = EmailMessage(
        subject="Invoice 42",
        body="Your invoice is attached.",
        from_email="Shop <shop@example.com>",
        to=["ada@example.com"],
        cc=["bob@example.com"],
        bcc=["audit@example.com"],
        reply_to=["help@example.com"],
        html="<p>Your invoice is <b>attached</b>.</p>",
        headers={"X-Order": "42"},
    )
    message.attach("invoice.pdf", b"%PDF-1.4 fake")
    message.attach("notes.txt", "plain notes")
    mime = parsed(message)
    assert mime["Subject"] == "Invoice 42"
    assert mime["From"] == "Shop <shop@example.com>"
    assert mime["To"] == "ada@example.com"
    assert mime["Cc"] == "bob@example.com"
    assert mime["Reply-To"] == "help@example.com"
    assert mime["Bcc"] is None  # Bcc recipients are not shown to the others
    assert mime["X-Order"] == "42"
    assert message.recipients() == ["ada@example.com", "bob@example.com", "audit@example.com"]
    body = mime.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Your invoice is attached."
    html = mime.get_body(("html",))
    assert html is not None and "<b>attached</b>" in html.get_content()
    files = {part.get_filename(): part for part in mime.iter_attachments()}
    assert files["invoice.pdf"].get_content_type() == "application/pdf"
    assert files["invoice.pdf"].get_content() == b"%PDF-1.4 fake"
    assert files["notes.txt"].get_content().strip() == "plain notes"


def test_a_message_survives_the_trip_through_json() -> None:
    message = EmailMessage("Hi", "text", to="ada@example.com", html="<p>text</p>")
    message.attach("a.bin", b"\x00\x01\xff", "application/octet-stream")
    again = EmailMessage.from_dict(message.to_dict())
    assert again == message


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "Hello\nX-Spam: yes"},
        {"to": ["ada@example.com\r\nBcc: victim@example.com"]},
        {"from_email": "me@example.com\nCc: victim@example.com"},
        {"reply_to": ["a@example.com\r\n"]},
        {"headers": {"X-Note": "a\r\nBcc: victim@example.com"}},
        {"headers": {"Bcc": "victim@example.com"}},
        {"to": ["not an address"]},
        {"to": ["a@example.com, b@example.com"]},
    ],
)
def test_header_injection_and_bad_addresses_are_refused(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"subject": "s", "body": "b", "to": ["ada@example.com"]}
    values.update(fields)
    with pytest.raises(BadHeaderError):
        EmailMessage(**values)  # type: ignore[arg-type]


def test_a_header_changed_after_the_message_was_made_is_refused_when_sent() -> None:
    message = EmailMessage("fine", "b", to=["ada@example.com"])
    message.subject = "now\r\nBcc: victim@example.com"
    with pytest.raises(BadHeaderError):
        message.to_mime()


def test_header_injection_from_a_form_is_a_400_not_a_500() -> None:
    app = App(extensions=[Mail("memory://")])

    @app.post("/contact")
    async def contact(request: Request, subject: str) -> dict[str, int]:
        return {"sent": await send_mail(request, subject, "hi", to="staff@example.com")}

    with TestClient(app) as client:
        response = client.post("/contact", params={"subject": "Hi\r\nBcc: x@example.com"})
        assert response.status_code == 400
        assert "line break" in response.json()["detail"]
        assert app.extension(Mail).outbox == []


def test_send_mail_from_a_handler_lands_in_the_outbox() -> None:
    app = App(extensions=[Mail(from_email="shop@example.com")])

    @app.post("/orders")
    async def order(request: Request) -> dict[str, int]:
        sent = await send_mail(request, "Order received", "Thanks!", to="ada@example.com")
        return {"sent": sent}

    with TestClient(app) as client:
        assert client.post("/orders").json() == {"sent": 1}
    (message,) = app.extension(Mail).outbox
    assert message.subject == "Order received"
    assert message.from_email == "shop@example.com"
    assert message.to == ["ada@example.com"]


def test_under_pytest_the_outbox_is_the_default_and_starts_empty(
    tmp_path: Path,
) -> None:
    # prow's pytest plugin points PROW_MAIL_URL at memory://, as Django's test runner does.
    assert os.environ["PROW_MAIL_URL"] == "memory://"
    mail = Mail()
    mail.setup(App())
    assert isinstance(mail.backend, MemoryBackend)
    assert mail.outbox == []


_KEPT: list[Mail] = []


def test_outboxes_fill_in_one_test() -> None:
    mail = Mail("memory://")
    mail.setup(App())
    mail.outbox.append(EmailMessage("s", "b", to="a@example.com"))
    _KEPT.append(mail)


def test_and_are_empty_in_the_next() -> None:
    assert _KEPT and _KEPT[0].outbox == []


def test_the_mailoutbox_fixture(mailoutbox: list[EmailMessage], app: App) -> None:
    with TestClient(app) as client:
        client.post("/hello")
    assert [m.subject for m in mailoutbox] == ["hello"]


@pytest.fixture
def app() -> App:
    app = App(extensions=[Mail()])

    @app.post("/hello")
    async def hello(request: Request) -> None:
        await send_mail(request, "hello", "world", to="ada@example.com")

    return app


def test_settings_choose_the_backend_and_sender() -> None:
    settings = Settings(mail_url="console://", mail_from="news@example.com", debug=True)
    app = create_app(settings, extensions=[Mail()])
    app.build()
    mail = app.extension(Mail)
    assert isinstance(mail.backend, ConsoleBackend)
    assert mail.from_email == "news@example.com"


def test_an_explicit_backend_wins_over_settings() -> None:
    app = create_app(Settings(mail_url="console://"), extensions=[Mail("memory://")])
    app.build()
    assert isinstance(app.extension(Mail).backend, MemoryBackend)


def test_the_console_backend_prints_the_message() -> None:
    stream = io.StringIO()
    app = App(extensions=[Mail(ConsoleBackend(stream))])

    @app.post("/")
    async def send(request: Request) -> None:
        await send_mail(request, "Reset", "Your link: https://x.example/r/1", to="a@example.com")

    with TestClient(app) as client:
        client.post("/")
    text = stream.getvalue()
    assert "Subject: Reset" in text
    assert "To: a@example.com" in text
    assert "https://x.example/r/1" in text


def test_html_from_templates_with_a_text_version(tmp_path: Path) -> None:
    (tmp_path / "welcome.html").write_text(
        "<h1>Welcome, {{ name }}</h1><p>Start <a href='{{ link }}'>here</a>.</p>"
    )
    (tmp_path / "welcome.txt").write_text("Welcome, {{ name }}: {{ link }}")
    app = App(extensions=[Templates(tmp_path), Mail("memory://")])

    @app.post("/")
    async def welcome(request: Request) -> None:
        context = {"name": "<Ada>", "link": "https://x.example/start"}
        await send_mail(
            request, "Hi", to="a@example.com", html_template="welcome.html", context=context
        )
        await send_mail(
            request,
            "Hi",
            to="a@example.com",
            html_template="welcome.html",
            text_template="welcome.txt",
            context=context,
        )

    with TestClient(app) as client:
        client.post("/")
    derived, both = app.extension(Mail).outbox
    assert derived.html is not None and "Welcome, &lt;Ada&gt;" in derived.html  # escaped
    assert derived.body == "Welcome, <Ada>\n\nStart here (https://x.example/start).\n"
    assert both.body == "Welcome, <Ada>: https://x.example/start"


def test_templates_given_to_mail_itself(tmp_path: Path) -> None:
    (tmp_path / "note.html").write_text("<p>{{ n }}</p>")
    mail = Mail("memory://", templates=tmp_path)
    mail.setup(App())
    assert (
        mail.message("s", to="a@example.com", html_template="note.html", context={"n": 3}).html
        == "<p>3</p>"
    )


def test_configuration_mistakes_have_codes() -> None:
    with pytest.raises(ConfigurationError) as caught:
        backend_from_url("carrier-pigeon://coop")
    assert caught.value.code == "prow.E271"
    with pytest.raises(ConfigurationError) as caught:
        backend_from_url("smtp://h?starttls=maybe")
    assert caught.value.code == "prow.E271"
    with pytest.raises(ConfigurationError) as caught:
        Mail(backend=42)  # type: ignore[arg-type]
    assert caught.value.code == "prow.E272"
    console = Mail(ConsoleBackend())
    console.setup(App())
    with pytest.raises(ConfigurationError) as caught:
        _ = console.outbox
    assert caught.value.code == "prow.E273"
    with pytest.raises(ConfigurationError) as caught:
        console.message("s", to="a@example.com", html_template="x.html")
    assert caught.value.code == "prow.E275"

    app = App()

    @app.post("/")
    async def send(request: Request) -> None:
        await send_mail(request, "s", "b", to="a@example.com")

    with pytest.raises(ConfigurationError) as caught:
        TestClient(app, raise_server_exceptions=True).post("/")
    assert caught.value.code == "prow.E270"


def test_smtp_urls() -> None:
    backend = backend_from_url("smtp://us%40er:p%3Ass@mail.example:587?starttls=1&timeout=3")
    assert isinstance(backend, SMTPBackend)
    assert (backend.host, backend.port, backend.start_tls, backend.timeout) == (
        "mail.example",
        587,
        True,
        3.0,
    )
    assert (backend.username, backend.password) == ("us@er", "p:ss")
    assert "p:ss" not in repr(backend)
    tls = backend_from_url("smtps://mail.example?verify=false")
    assert isinstance(tls, SMTPBackend)
    assert (tls.port, tls.use_tls, tls.validate_certs) == (465, True, False)
