"""The SMTP backend against a real aiosmtpd server run by the test: plain, STARTTLS, TLS, AUTH."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import anyio
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from prow import App, Request
from prow.mail import EmailMessage, Mail, MailError, MailUnavailable, SMTPBackend, send_mail
from prow.testing import TestClient


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and the file clients trust it from)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"app", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[Inbox, int]]:
    """A running aiosmtpd; ``request.param`` holds extra Controller options."""
    inbox = Inbox()
    options: dict[str, Any] = getattr(request, "param", {})
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def received(inbox: Inbox) -> list[Any]:
    return [
        message_from_bytes(e.original_content or b"", policy=default_policy)
        for e in inbox.envelopes
    ]


def send(backend: SMTPBackend, *messages: EmailMessage) -> int:
    mail = Mail(backend, from_email="app@example.com")
    mail.setup(App())

    async def go() -> int:
        return await mail.send_now(*messages)

    return anyio.run(go)


def test_plain_smtp_delivers_text_html_attachments_and_bcc(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    message = EmailMessage(
        "Hello",
        "text body",
        to=["ada@example.com"],
        bcc=["audit@example.com"],
        html="<p>html body</p>",
    )
    message.attach("a.txt", b"attached")
    assert (
        send(SMTPBackend("127.0.0.1", port), message, EmailMessage("Two", "2", to="b@example.com"))
        == 2
    )
    first, second = inbox.envelopes
    assert first.mail_from == "app@example.com"
    assert first.rcpt_tos == ["ada@example.com", "audit@example.com"]
    mime = received(inbox)[0]
    assert mime["Subject"] == "Hello" and mime["Bcc"] is None
    assert [p.get_filename() for p in mime.iter_attachments()] == ["a.txt"]
    assert second.rcpt_tos == ["b@example.com"]


@pytest.mark.parametrize("smtp_server", [{}], indirect=True)
def test_send_mail_in_a_request_through_smtp(smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    app = App(extensions=[Mail(f"smtp://127.0.0.1:{port}")])

    @app.post("/")
    async def hello(request: Request) -> dict[str, int]:
        return {"sent": await send_mail(request, "Hi", "there", to="ada@example.com")}

    with TestClient(app) as client:
        assert client.post("/").json() == {"sent": 1}
    assert received(inbox)[0]["Subject"] == "Hi"


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_starttls_with_a_self_signed_certificate_and_auth(
    starttls_server: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    inbox, port = starttls_server
    backend = SMTPBackend(
        "localhost",
        port,
        username="app",
        password="s3cret",
        start_tls=True,
        cert_bundle=str(certificate[0]),
    )
    assert send(backend, EmailMessage("Secure", "b", to="ada@example.com")) == 1
    assert received(inbox)[0]["Subject"] == "Secure"


def test_starttls_refuses_an_unknown_certificate(starttls_server: tuple[Inbox, int]) -> None:
    _, port = starttls_server
    backend = SMTPBackend("localhost", port, start_tls=True, timeout=5)
    with pytest.raises((MailUnavailable, MailError)) as caught:
        send(backend, EmailMessage("x", "b", to="ada@example.com"))
    assert "certificate" in str(caught.value).lower()


def test_wrong_credentials_are_a_mail_error(
    starttls_server: tuple[Inbox, int], certificate: tuple[Path, Path]
) -> None:
    inbox, port = starttls_server
    backend = SMTPBackend(
        "localhost",
        port,
        username="app",
        password="wrong",
        start_tls=True,
        cert_bundle=str(certificate[0]),
    )
    with pytest.raises(MailError, match="refused the login"):
        send(backend, EmailMessage("x", "b", to="ada@example.com"))
    assert inbox.envelopes == []


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), ssl_context=server_context(certificate)
    )
    controller.start()
    try:
        backend = SMTPBackend(
            "localhost", controller.port, use_tls=True, cert_bundle=str(certificate[0])
        )
        assert send(backend, EmailMessage("TLS", "b", to="ada@example.com")) == 1
    finally:
        controller.stop()
    assert received(inbox)[0]["Subject"] == "TLS"


def test_a_server_that_is_down_is_a_503_at_once() -> None:
    app = App(extensions=[Mail(SMTPBackend("127.0.0.1", free_port(), timeout=2))])

    @app.post("/")
    async def hello(request: Request) -> None:
        await send_mail(request, "Hi", "there", to="ada@example.com")

    started = time.monotonic()
    with TestClient(app) as client:
        response = client.post("/")
    assert time.monotonic() - started < 2
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "cannot reach the SMTP server" in response.json()["detail"]


def test_a_server_that_never_answers_times_out_instead_of_hanging() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    backend = SMTPBackend("127.0.0.1", listener.getsockname()[1], timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(MailUnavailable):
            send(backend, EmailMessage("x", "b", to="ada@example.com"))
        assert time.monotonic() - started < 3
    finally:
        for sock in accepted:
            sock.close()
        listener.close()
