"""The demo app's admin: alice (staff, item permissions) edits items; bob is refused."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from admin._shop import csrf
from prow.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.demo.app import DEMO_USERS, create_app, prepare  # noqa: E402


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    prepare(url)
    with TestClient(create_app(url)) as client:
        yield client


def login(client: TestClient, username: str) -> int:
    page = client.get("/admin/login").text
    form = {"username": username, "password": DEMO_USERS[username][0], "csrf_token": csrf(page)}
    return client.post("/admin/login", data=form, follow_redirects=False).status_code


def test_staff_edit_items_in_the_demo_admin(demo: TestClient) -> None:
    assert login(demo, "bob") == 400  # not staff
    assert login(demo, "alice") == 303
    home = demo.get("/admin").text
    assert "Items" in home and "Categories" in home and "Users" not in home
    listing = demo.get("/admin/catalogue/item?q=hammer").text
    assert "Hammer" in listing and "tools" in listing and "Screwdriver" not in listing
    page = demo.get("/admin/catalogue/item/1/change").text
    form = {"csrf_token": csrf(page), "name": "Claw hammer", "price": "0", "category_id": "1"}
    refused = demo.post("/admin/catalogue/item/1/change", data=form)
    assert refused.status_code == 422 and "greater than 0" in refused.text
    done = demo.post("/admin/catalogue/item/1/change", data={**form, "price": "13"})
    assert "Claw hammer" in done.text
    assert demo.get("/admin/catalogue/category/1/delete").status_code == 403
