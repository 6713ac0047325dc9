"""The admin driven by a person in headless Chromium, with JavaScript on; screenshots for docs.

``PROW_ADMIN_SCREENSHOTS=1`` writes the screenshots into ``docs/images/`` (for
``docs/admin.md``); otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from _browser import OfflinePage, serve_app
from admin._shop import PASSWORD, build

DOCS_IMAGES = Path(__file__).resolve().parent.parent.parent / "docs" / "images"


def folder(tmp_path: Path) -> Path:
    if os.environ.get("PROW_ADMIN_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(exist_ok=True)
        return DOCS_IMAGES
    return tmp_path


def log_in(page: object, base: str, username: str) -> None:
    page.goto(f"{base}/admin")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/admin/login?next=%2Fadmin")  # type: ignore[attr-defined]
    page.get_by_label("Username").fill(username)  # type: ignore[attr-defined]
    page.get_by_label("Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Log in").click()  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/admin")  # type: ignore[attr-defined]


def test_a_staff_member_works_through_the_admin(offline_page: OfflinePage, tmp_path: Path) -> None:
    shots = folder(tmp_path)
    app = build(f"sqlite+aiosqlite:///{tmp_path / 'admin.sqlite3'}")
    page = offline_page.page
    page.set_viewport_size({"width": 1280, "height": 860})
    with serve_app(app) as base:
        page.goto(f"{base}/admin/login")
        page.screenshot(path=str(shots / "admin-login.png"))
        log_in(page, base, "boss")
        page.screenshot(path=str(shots / "admin-index.png"))

        # Find a row by search, then by filter.
        page.get_by_role("link", name="Orders").first.click()
        page.get_by_label("Search orders").fill("ada@")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url("**/admin/shop/order?q=ada%40")
        assert "12 orders" in page.locator(".paginator").inner_text()
        page.get_by_role("link", name="paid").click()
        rows = page.locator("table.results tbody tr")
        assert rows.count() == 4  # Ada's paid orders: R001, R007, R013, R019
        page.get_by_label("Search orders").fill("")
        page.get_by_role("button", name="Search").click()
        page.screenshot(path=str(shots / "admin-change-list.png"), full_page=True)

        # Add one with a validation error, then fix it.
        page.goto(f"{base}/admin/shop/order/add")
        page.get_by_label("Reference").fill("NEW-1")
        page.get_by_label("Customer").select_option(label="Ada")
        page.get_by_label("Total").fill("-3")
        page.get_by_role("button", name="Save", exact=True).click()
        page.locator(".message.error").first.wait_for()
        assert "total_positive" in page.locator("main").inner_text()
        assert page.get_by_label("Reference").input_value() == "NEW-1"
        page.screenshot(path=str(shots / "admin-form-errors.png"), full_page=True)
        page.get_by_label("Total").fill("30")
        page.get_by_role("button", name="Save and continue editing").click()
        page.get_by_role("status").wait_for()
        assert "was added" in page.get_by_role("status").inner_text()

        # Edit it, with an inline row.
        page.get_by_label("Note").fill("Leave at the door")
        page.get_by_label("Product, row 1").fill("Lamp")
        page.get_by_label("Quantity, row 1").fill("2")
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_url(f"{base}/admin/shop/order")
        assert "was changed" in page.get_by_role("status").inner_text()

        # A bulk action on two rows, with "select all" off: tick them one by one.
        page.get_by_label("Select R024").check()
        page.get_by_label("Select R023").check()
        assert page.locator("[data-selected-count]").inner_text() == "2 of 10 selected"
        page.get_by_label("Action").select_option(label="Mark as shipped")
        page.get_by_role("button", name="Go").click()
        assert "2 orders shipped." in page.get_by_role("status").inner_text()

        # Delete with the confirmation page.
        page.get_by_label("Select R022").check()
        page.get_by_label("Action").select_option(label="Delete selected orders")
        page.get_by_role("button", name="Go").click()
        page.get_by_role("heading", name="Are you sure?").wait_for()
        page.screenshot(path=str(shots / "admin-delete.png"))
        page.get_by_role("button", name="Yes, delete").click()
        assert "Deleted 1 order." in page.get_by_role("status").inner_text()

        # History of the edited order.
        page.goto(f"{base}/admin/shop/order?q=NEW-1")
        page.get_by_role("link", name="NEW-1").click()
        page.get_by_role("link", name="History").click()
        history = page.locator("table.history").inner_text()
        assert "Added." in history and "Changed note and order lines." in history
        page.screenshot(path=str(shots / "admin-history.png"))

        page.emulate_media(color_scheme="dark")
        page.goto(f"{base}/admin/shop/order")
        page.screenshot(path=str(shots / "admin-change-list-dark.png"), full_page=True)
        page.emulate_media(color_scheme="light")

        # A user without the permission: no button, and 403 on the URL.
        page.get_by_role("button", name="Log out").click()
        log_in(page, base, "viewer")
        page.goto(f"{base}/admin/shop/order")
        assert page.get_by_role("link", name="+ Add order").count() == 0
        assert page.get_by_label("Action").count() == 0
        answer = page.goto(f"{base}/admin/shop/order/add")
        assert answer is not None and answer.status == 403
        assert "Permission denied" in page.locator("h1").inner_text()
    offline_page.assert_offline()
    assert offline_page.page_errors == []
    # The 422 and 403 answers above are logged as "Failed to load resource"; nothing else
    # may be (a Content-Security-Policy violation would be).
    others = [e for e in offline_page.console_errors if not e.startswith("Failed to load")]
    assert others == []


def test_basic_flows_work_with_javascript_off(browser: object, tmp_path: Path) -> None:
    app = build(f"sqlite+aiosqlite:///{tmp_path / 'admin.sqlite3'}")
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        with serve_app(app) as base:
            log_in(page, base, "boss")
            page.goto(f"{base}/admin/shop/order?status=paid")
            assert page.locator("#select-all").is_hidden()  # shown by the script only
            page.get_by_label("Select R019").check()
            page.get_by_label("Action").select_option(label="Mark as shipped")
            page.get_by_role("button", name="Go").click()
            assert "1 orders shipped." in page.get_by_role("status").inner_text()
    finally:
        context.close()
