"""A person resets a forgotten password by e-mail in headless Chromium, then logs in."""

from __future__ import annotations

import re
from pathlib import Path

from _browser import OfflinePage, serve_app
from prow import App
from prow.auth import Accounts, Auth, CurrentUser
from prow.db import Database
from prow.mail import Mail

SECRET = "a-test-secret-key-that-is-long-enough-0123456789"
SHOTS = Path(__file__).resolve().parent.parent.parent / "build" / "screenshots"


def make_app(tmp_path: Path) -> App:
    auth = Auth()
    app = App(
        secret_key=SECRET,
        allowed_hosts=["127.0.0.1"],
        extensions=[
            Database(f"sqlite:///{tmp_path}/b.sqlite3"),
            auth,
            Mail("memory://"),
            Accounts(),
        ],
    )

    @app.on_startup
    async def tables() -> None:
        database = app.extension(Database)
        await database.create_all(*auth.tables())
        async with database.session() as session:
            await auth.create_user(session, "ann", "correct horse battery", email="ann@example.com")
            await session.commit()

    @app.get("/private")
    async def private(user: CurrentUser) -> str:
        return f"hello {user.username}"

    return app


def test_a_person_resets_a_forgotten_password(offline_page: OfflinePage, tmp_path: Path) -> None:
    app = make_app(tmp_path)
    page = offline_page.page
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve_app(app) as base:
        page.goto(f"{base}/private")  # a page that needs a login
        page.wait_for_url(f"{base}/accounts/login?next=%2Fprivate")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("E-mail address").fill("ann@example.com")
        page.get_by_role("button", name="Send the link").click()
        page.get_by_role("heading", name="Check your mail").wait_for()

        (message,) = app.extension(Mail).outbox
        link = re.search(r"http://\S+/accounts/password/reset/\S+", message.body)
        assert link is not None, message.body
        page.goto(link.group(0))
        page.get_by_label("New password", exact=True).fill("a new horse battery")
        page.get_by_label("New password again").fill("a new horse battery")
        page.screenshot(path=str(SHOTS / "accounts-reset-form.png"))
        page.get_by_role("button", name="Set the password").click()
        page.wait_for_url(f"{base}/accounts/login")
        assert "Your password is changed" in page.locator(".flash").inner_text()

        page.get_by_label("Username").fill("ann")
        page.get_by_label("Password").fill("a new horse battery")
        page.screenshot(path=str(SHOTS / "accounts-login.png"))
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/private")
        assert "hello ann" in page.content()
    offline_page.assert_offline()
