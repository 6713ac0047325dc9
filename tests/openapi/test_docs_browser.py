"""``/docs`` and ``/redoc`` of a real prow app, rendered in headless Chromium with no internet.

Every request that does not go to 127.0.0.1 is blocked (see ``tests/_browser.py``), so
these tests prove the pages need no CDN.
"""

from __future__ import annotations

import json

from pydantic import BaseModel

from _browser import OfflinePage, serve_app
from prow import App


class Pet(BaseModel):
    name: str
    age: int


def make_app() -> App:
    app = App(title="Pet shop")

    @app.get("/pets/{pet_id}", tags=["pets"])
    async def read_pet(pet_id: int, greeting: str = "hi") -> Pet:
        """Fetch one pet."""
        return Pet(name=f"{greeting} #{pet_id}", age=pet_id)

    @app.post("/pets", status_code=201, tags=["pets"])
    async def create_pet(pet: Pet) -> Pet:
        return pet

    return app


def test_swagger_ui_renders_and_sends_a_request(offline_page: OfflinePage) -> None:
    page = offline_page.page
    with serve_app(make_app()) as base:
        page.goto(f"{base}/docs")
        block = page.locator(".opblock-get", has_text="/pets/{pet_id}")
        block.wait_for(timeout=15000)
        assert page.locator(".opblock-post", has_text="/pets").count() == 1
        block.locator(".opblock-summary").click()
        page.locator("button.try-out__btn").click()
        page.locator("input[placeholder='pet_id']").fill("7")
        page.locator("button.execute").click()
        body = page.locator(".live-responses-table .response-col_description pre").first
        body.wait_for(timeout=10000)
        assert json.loads(body.inner_text()) == {"name": "hi #7", "age": 7}
        status = page.locator(".live-responses-table tbody .response-col_status").first
        assert status.inner_text().strip() == "200"
    offline_page.assert_offline()
    offline_page.assert_no_errors()


def test_redoc_renders(offline_page: OfflinePage) -> None:
    page = offline_page.page
    with serve_app(make_app()) as base:
        page.goto(f"{base}/redoc")
        page.get_by_text("Fetch one pet.").first.wait_for(timeout=15000)
        assert "Pet shop" in page.locator("h1").first.inner_text()
    offline_page.assert_offline()
    offline_page.assert_no_errors()


# Collects every Content-Security-Policy violation the page reports, before any script runs.
CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def test_docs_pages_run_under_their_strict_csp(offline_page: OfflinePage) -> None:
    page = offline_page.page
    page.add_init_script(CSP_WATCH)
    with serve_app(make_app()) as base:
        answer = page.goto(f"{base}/docs")
        assert answer is not None
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe" not in policy
        block = page.locator(".opblock-post", has_text="/pets")
        block.wait_for(timeout=15000)
        block.locator(".opblock-summary").click()
        page.locator("button.try-out__btn").click()
        page.locator("textarea.body-param__text").fill('{"name": "Rex", "age": 3}')
        page.locator("button.execute").click()
        status = page.locator(".live-responses-table tbody .response-col_status").first
        status.wait_for(timeout=10000)
        assert status.inner_text().strip() == "201"
        assert page.evaluate("window.__csp") == []

        answer = page.goto(f"{base}/redoc")
        assert answer is not None
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        page.get_by_text("Fetch one pet.").first.wait_for(timeout=15000)
        page.locator("input[placeholder='Search...']").fill("pet")  # ReDoc's search worker
        page.locator("[role=search] li, .search-result").first.wait_for(timeout=10000)
        assert page.evaluate("window.__csp") == []
    offline_page.assert_offline()
    offline_page.assert_no_errors()
