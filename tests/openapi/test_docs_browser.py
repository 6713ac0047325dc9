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
