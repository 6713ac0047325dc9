"""Accounts: login/logout pages, sign-up with e-mail verification, password reset and change."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from prow import App
from prow.auth import Accounts, Auth, CurrentUser
from prow.db import Database
from prow.mail import Mail
from prow.testing import TestClient

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
PASSWORD = "correct horse battery"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(tmp_path: Path, **options: object) -> App:
    auth = Auth()
    app = App(
        secret_key=SECRET,
        extensions=[
            Database(f"sqlite:///{tmp_path}/a.sqlite3"),
            auth,
            Accounts(rate_limit=None, **options),
        ],  # type: ignore[arg-type]
    )

    @app.on_startup
    async def tables() -> None:
        database = app.extension(Database)
        await database.create_all(*auth.tables())
        async with database.session() as session:
            await auth.create_user(session, "ann", PASSWORD, email="ann@example.com")
            await session.commit()

    @app.get("/private")
    async def private(user: CurrentUser) -> str:
        return f"hello {user.username}"

    return app


@pytest.fixture
def app(tmp_path: Path) -> App:
    return make_app(tmp_path)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(app, headers=BROWSER) as client:
        yield client


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found, page.text
    return found.group(1)


def submit(client: TestClient, path: str, data: dict[str, str], **kwargs: object):  # type: ignore[no-untyped-def]
    return client.post(
        path, data={"csrf_token": csrf(client, path), **data}, follow_redirects=False, **kwargs
    )  # type: ignore[arg-type]


def log_in(client: TestClient, username: str = "ann", password: str = PASSWORD, next: str = ""):  # type: ignore[no-untyped-def]
    return submit(
        client, "/accounts/login", {"username": username, "password": password, "next": next}
    )


def link_in(message: object, pattern: str) -> str:
    found = re.search(r"http://testserver(" + pattern + r"[^\s\"'<)]+)", message.body)  # type: ignore[attr-defined]
    assert found, message.body  # type: ignore[attr-defined]
    return found.group(1)


def test_a_page_needing_a_login_sends_the_browser_to_the_login_page_and_back(
    client: TestClient,
) -> None:
    response = client.get("/private", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/accounts/login?next=%2Fprivate"
    page = client.get(response.headers["location"])
    assert 'name="next" value="/private"' in page.text
    done = log_in(client, next="/private")
    assert (done.status_code, done.headers["location"]) == (303, "/private")
    assert client.get("/private").json() == "hello ann"


def test_a_failed_login_is_the_form_again_with_an_error(client: TestClient) -> None:
    response = log_in(client, password="wrong password")
    assert response.status_code == 400
    assert "Wrong username or password." in response.text
    assert 'value="ann"' in response.text
    assert client.get("/private", follow_redirects=False).status_code == 303


def test_forms_need_their_csrf_token_and_next_cannot_leave_the_site(client: TestClient) -> None:
    csrf(client, "/accounts/login")  # the cookie is set
    refused = client.post("/accounts/login", data={"username": "ann", "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    response = log_in(client, next="https://evil.example/")
    assert response.headers["location"] == "/"


def test_logout_is_a_post(client: TestClient) -> None:
    log_in(client)
    assert "Log out" in client.get("/accounts/logout").text  # GET only asks
    assert client.get("/private").status_code == 200
    response = submit(client, "/accounts/logout", {})
    assert response.status_code == 303
    assert client.get("/private", follow_redirects=False).status_code == 303
    assert "You are logged out." in client.get("/accounts/login").text


def test_sign_up_verify_then_log_in(client: TestClient, app: App) -> None:
    outbox = app.extension(Mail).outbox
    response = submit(
        client,
        "/accounts/register",
        {
            "username": "bea",
            "email": "Bea@Example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200 and "Check your mail" in response.text
    assert log_in(client, "bea").status_code == 400  # not verified yet
    (message,) = outbox
    assert message.to == ["bea@example.com"]
    assert message.html is not None and "confirm my address" in message.html
    link = link_in(message, "/accounts/verify/")
    verified = client.get(link, follow_redirects=False)
    assert (verified.status_code, verified.headers["location"]) == (303, "/accounts/login")
    assert "Your e-mail address is confirmed" in client.get("/accounts/login").text
    assert client.get(link).status_code == 400  # works once
    assert log_in(client, "bea").status_code == 303


def test_sign_up_refuses_bad_input_with_the_form(client: TestClient) -> None:
    response = submit(
        client,
        "/accounts/register",
        {
            "username": "cy",
            "email": "not-an-address",
            "password1": "short",
            "password2": "shirt",
        },
    )
    assert response.status_code == 400
    assert "Enter a valid e-mail address." in response.text
    assert "The two passwords differ." in response.text
    weak = submit(
        client,
        "/accounts/register",
        {
            "username": "cy",
            "email": "cy@example.com",
            "password1": "12345678901",
            "password2": "12345678901",
        },
    )
    assert weak.status_code == 400 and "only digits" in weak.text


def test_sign_up_with_a_taken_address_does_not_tell(client: TestClient, app: App) -> None:
    response = submit(
        client,
        "/accounts/register",
        {
            "username": "other",
            "email": "ann@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200 and "Check your mail" in response.text
    (message,) = app.extension(Mail).outbox
    assert message.to == ["ann@example.com"] and "already has one" in message.body


def test_password_reset_by_mail_is_single_use(client: TestClient, app: App) -> None:
    outbox = app.extension(Mail).outbox
    unknown = submit(client, "/accounts/password/reset", {"email": "nobody@example.com"})
    known = submit(client, "/accounts/password/reset", {"email": "ANN@example.com"})
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace(TOKEN.pattern, "") and "Check your mail" in unknown.text
    assert _without_tokens(unknown.text) == _without_tokens(known.text)  # no enumeration
    (message,) = outbox
    link = link_in(message, "/accounts/password/reset/")
    mismatch = submit(client, link, {"password1": "new horse battery", "password2": "x"})
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    done = submit(
        client, link, {"password1": "new horse battery", "password2": "new horse battery"}
    )
    assert (done.status_code, done.headers["location"]) == (303, "/accounts/login")
    assert client.get(link).status_code == 400  # used
    assert log_in(client, password=PASSWORD).status_code == 400
    assert log_in(client, password="new horse battery").status_code == 303


def test_a_tampered_or_expired_reset_link_is_refused(tmp_path: Path) -> None:
    import datetime

    app = make_app(tmp_path, reset_max_age=datetime.timedelta(seconds=-1))
    with TestClient(app, headers=BROWSER) as client:
        submit(client, "/accounts/password/reset", {"email": "ann@example.com"})
        (message,) = app.extension(Mail).outbox
        link = link_in(message, "/accounts/password/reset/")
        assert client.get(link).status_code == 400  # expired
        assert client.get(link[:-3] + "abc").status_code == 400  # tampered


def test_password_change(client: TestClient) -> None:
    assert client.get("/accounts/password/change", follow_redirects=False).status_code == 303
    log_in(client)
    wrong = submit(
        client,
        "/accounts/password/change",
        {
            "old_password": "nope",
            "password1": "new horse battery",
            "password2": "new horse battery",
        },
    )
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    done = submit(
        client,
        "/accounts/password/change",
        {
            "old_password": PASSWORD,
            "password1": "new horse battery",
            "password2": "new horse battery",
        },
    )
    assert done.status_code == 303
    assert client.get("/private").json() == "hello ann"  # this browser stays logged in
    assert "Your password is changed." in client.get("/accounts/login").text


def test_a_project_overrides_a_page_by_writing_its_template(tmp_path: Path) -> None:
    folder = tmp_path / "templates" / "accounts"
    folder.mkdir(parents=True)
    (folder / "login.html").write_text("<p>Our own login page {{ csrf_input() }}</p>")
    app = make_app(tmp_path, templates=tmp_path / "templates")
    with TestClient(app, headers=BROWSER) as client:
        assert client.get("/accounts/login").text.startswith("<p>Our own login page")


def test_posts_are_rate_limited(tmp_path: Path) -> None:
    auth = Auth()
    app = App(
        secret_key=SECRET,
        extensions=[
            Database(f"sqlite:///{tmp_path}/r.sqlite3"),
            auth,
            Accounts(rate_limit="3/minute"),
        ],
    )

    @app.on_startup
    async def tables() -> None:
        await app.extension(Database).create_all(*auth.tables())

    with TestClient(app, headers=BROWSER) as client:
        codes = [log_in(client, "x", "wrong password").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]


def _without_tokens(text: str) -> str:
    return TOKEN.sub("", text)
