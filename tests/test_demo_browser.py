"""The demo's pages driven by a person in headless Chromium: the item form, then logging in."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _browser import OfflinePage, serve_app
from prow import App

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``examples`` lives at the repository root, outside the src layout
    sys.path.insert(0, str(ROOT))

from examples.demo.app import DEMO_USERS, create_app, prepare  # noqa: E402


def fresh_demo(tmp_path: Path) -> App:
    """The demo on a new SQLite file, migrated and seeded."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    # prepare() runs its own event loop; Playwright's sync API keeps one marked as running
    # in this thread, so it runs in another.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(prepare, url).result()
    return create_app(url)


def test_a_person_adds_an_item_after_fixing_the_form(
    offline_page: OfflinePage, tmp_path: Path
) -> None:
    app = fresh_demo(tmp_path)
    page = offline_page.page
    with serve_app(app) as base:
        page.goto(f"{base}/items/new")  # only for users who may add items: log in first
        page.wait_for_url(f"{base}/login?next=/items/new")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(DEMO_USERS["alice"][0])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/items/new")
        page.get_by_label("Name").fill("Hand saw")
        page.get_by_label("Price (€)").fill("0")  # the browser allows 0; the server does not
        page.get_by_label("Category").select_option(label="tools")
        page.get_by_role("button", name="Add item").click()
        error = page.locator(".field-errors")
        error.wait_for()
        assert "greater than 0" in error.inner_text()
        assert page.get_by_label("Name").input_value() == "Hand saw"  # what was typed stays

        page.get_by_label("Price (€)").fill("14.5")
        page.get_by_role("button", name="Add item").click()
        page.wait_for_url(f"{base}/items")
        assert page.get_by_role("status").inner_text() == "Added “Hand saw”."
        assert "Hand saw" in page.locator("main").inner_text()
        page.reload()
        assert page.get_by_role("status").count() == 0  # a flash message is shown once
    offline_page.assert_offline()


def test_a_person_logs_in_and_sees_their_permission(
    offline_page: OfflinePage, tmp_path: Path
) -> None:
    app = fresh_demo(tmp_path)
    page = offline_page.page
    with serve_app(app) as base:
        page.goto(f"{base}/account")
        page.wait_for_url(f"{base}/login?next=/account")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("not her password")
        page.get_by_role("button", name="Log in").click()
        assert "Wrong username or password." in page.locator(".form-errors").inner_text()

        page.get_by_label("Password").fill(DEMO_USERS["alice"][0])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/account")
        assert page.locator("h1").inner_text() == "Hello, alice"
        assert "You have the item.change permission" in page.locator("#permission").inner_text()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{base}/items")
        assert page.get_by_role("status").inner_text() == "You are logged out."
    offline_page.assert_offline()


def test_a_person_logs_in_through_swagger_ui(offline_page: OfflinePage, tmp_path: Path) -> None:
    app = fresh_demo(tmp_path)
    page = offline_page.page
    with serve_app(app) as base:
        page.goto(f"{base}/docs")
        login = page.locator("#operations-auth-auth_login_post")
        login.wait_for(timeout=15000)
        login.locator(".opblock-summary").click()
        login.locator("button.try-out__btn").click()
        # The form the route reads has fields to fill, not an empty body.
        login.locator("select.content-type").first.select_option(
            "application/x-www-form-urlencoded"
        )
        assert login.locator("input[placeholder='username']").is_visible()
        assert login.locator("input[placeholder='password']").is_visible()
        login.locator("select.content-type").first.select_option("application/json")
        credentials = {"username": "alice", "password": DEMO_USERS["alice"][0]}
        login.locator("textarea.body-param__text").fill(json.dumps(credentials))
        login.locator("button.execute").click()
        status = login.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=10000)
        assert status.inner_text().strip() == "200"
        body = login.locator(".live-responses-table .response-col_description pre").first
        assert json.loads(body.inner_text())["username"] == "alice"
    offline_page.assert_offline()
    offline_page.assert_no_errors()
