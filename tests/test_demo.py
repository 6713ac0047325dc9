"""The demo app (examples/demo): its migration, its resources, its own routes, and its launcher."""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prow.db import showmigrations
from prow.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``examples`` lives at the repository root, outside the src layout
    sys.path.insert(0, str(ROOT))

from examples.demo.app import (  # noqa: E402
    DEMO_USERS,
    MIGRATIONS,
    Category,
    Item,
    create_app,
    prepare,
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    """The demo on a fresh SQLite file: migrated, seeded, lifespan running."""
    prepare(url)
    with TestClient(create_app(url)) as client:
        yield client


def names(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return [item["name"] for item in page.json()["items"]]


def test_prepare_migrates_then_seeds_only_once(url: str) -> None:
    applied = prepare(url)
    assert [m.message for m in applied] == [
        "create the catalogue",
        "users and permissions",
        "one account per username",
        "admin history",
    ]
    assert all(m.applied for m in applied)
    assert showmigrations(url=url, directory=MIGRATIONS) == applied
    assert prepare(url) == []  # nothing pending, and the seed sees rows already

    with TestClient(create_app(url)) as client:
        assert client.get("/api/items").json()["total"] == 5


def test_the_migration_matches_the_models() -> None:
    # A model changed without a new migration would be missing from a fresh database.
    versions = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert versions, "examples/demo/migrations/versions holds no migration"
    text = "\n".join(path.read_text(encoding="utf-8") for path in versions)
    for table in (Category.__tablename__, Item.__tablename__, "auth_user", "auth_permission"):
        assert f'"{table}"' in text, f"no migration creates table {table!r}"


def test_index_points_at_the_docs(client: TestClient) -> None:
    assert client.get("/").json() == {
        "message": "Hello from prow",
        "docs": "/docs",
        "items": "/api/items",
    }
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/items", "/api/items/{pk}", "/api/categories", "/api/stats"} <= set(paths)


def test_items_list_filters_orders_and_nests_the_category(client: TestClient) -> None:
    cheap = client.get("/api/items", params={"price__lt": 10, "order": "-price"})
    assert names(cheap) == ["Screwdriver", "Dark chocolate", "Pretzel"]
    assert cheap.json()["total"] == 3
    assert cheap.json()["items"][0]["category"] == {"id": 1, "name": "tools"}

    assert names(client.get("/api/items?category_id=2&order=name")) == [
        "Dark chocolate",
        "Pretzel",
    ]
    assert names(client.get("/api/items?search=CHOC")) == ["Dark chocolate"]
    assert names(client.get("/api/categories")) == ["snacks", "tools"]


def test_items_list_refuses_bad_queries(client: TestClient) -> None:
    unknown = client.get("/api/items?colour=red")
    assert unknown.status_code == 400
    assert unknown.json()["detail"].startswith("cannot filter on 'colour'")
    assert client.get("/api/items?order=id_desc").status_code == 400
    assert client.get("/api/items?price__lt=cheap").status_code == 422
    assert client.get("/api/items?limit=1000").status_code == 422


def test_create_an_item_then_read_it(client: TestClient) -> None:
    saw = {"name": "Saw", "price": 15.0, "category_id": 1}
    created = client.post("/api/items", json=saw, headers=token_for(client, "alice"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == 6 and body["name"] == "Saw" and body["created_at"]
    assert client.get("/api/items/6").json()["category"] == {"id": 1, "name": "tools"}
    assert client.get("/api/items?price__gte=15").json()["total"] == 2


def test_create_refuses_what_the_database_would_not_store(client: TestClient) -> None:
    alice = token_for(client, "alice")
    gift = {"name": "Gift", "price": -1, "category_id": 1}
    negative = client.post("/api/items", json=gift, headers=alice)
    assert negative.status_code == 422
    # The table's CHECK (price > 0) is in the create schema too: refused naming the field.
    assert [e["loc"] for e in negative.json()["errors"]] == [["body", "price"]]

    orphan = client.post("/api/items", json={**gift, "price": 1, "category_id": 99}, headers=alice)
    assert orphan.status_code == 409
    assert orphan.json()["violation"] == "foreign_key"

    assert client.post("/api/items", json={"name": "Gift"}, headers=alice).status_code == 422
    taken = client.post("/api/categories", json={"name": "tools"}, headers=alice)
    assert taken.status_code == 409
    assert client.get("/api/items").json()["total"] == 5  # nothing was stored


def test_missing_rows_are_404(client: TestClient) -> None:
    missing = client.get("/api/items/999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Item 999 does not exist."
    alice = token_for(client, "alice")
    assert client.delete("/api/items/999", headers=alice).status_code == 404
    by_hand = client.post("/api/items/999/discount", headers=alice)  # get_or_404 by hand
    assert by_hand.status_code == 404
    assert by_hand.json()["detail"] == "Item 999 does not exist."


def test_stats_counts_and_averages_per_category(client: TestClient) -> None:
    assert client.get("/api/stats").json() == {
        "items": 5,
        "categories": [
            {"category": "snacks", "items": 2, "average_price": 2.2},
            {"category": "tools", "items": 3, "average_price": 12.2},
        ],
    }
    alice = token_for(client, "alice")
    assert client.post("/api/categories", json={"name": "books"}, headers=alice).is_success
    assert client.delete("/api/items/4", headers=alice).is_success
    stats = client.get("/api/stats").json()
    assert stats["items"] == 4
    assert stats["categories"][0] == {"category": "books", "items": 0, "average_price": None}


def token_for(client: TestClient, username: str) -> dict[str, str]:
    password = DEMO_USERS[username][0]
    answer = client.post("/auth/token", data={"username": username, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_discount_is_committed(client: TestClient) -> None:
    alice = token_for(client, "alice")
    changed = client.post("/api/items/1/discount?percent=20", headers=alice)
    assert changed.json() == {"id": 1, "name": "Hammer", "old_price": 12.5, "new_price": 10.0}
    assert client.get("/api/items/1").json()["price"] == 10.0
    too_much = client.post("/api/items/1/discount?percent=95", headers=alice)
    assert too_much.status_code == 422
    assert client.get("/api/items/1").json()["price"] == 10.0


def test_only_users_with_permissions_write_the_catalogue(client: TestClient) -> None:
    bob = token_for(client, "bob")
    change = {"price": 0.01}
    assert client.patch("/api/items/1", json=change).status_code == 401
    refused = client.patch("/api/items/1", json=change, headers=bob)
    assert refused.status_code == 403 and "item.change" in refused.json()["detail"]
    assert client.delete("/api/items/1", headers=bob).status_code == 403
    new = {"name": "Gift", "price": 1, "category_id": 1}
    assert client.post("/api/items", json=new, headers=bob).status_code == 403
    assert client.get("/api/items/1", headers=bob).json()["price"] == 12.5  # reading is open
    alice = token_for(client, "alice")
    assert client.patch("/api/items/1", json=change, headers=alice).json()["price"] == 0.01


def test_discount_needs_the_item_change_permission(client: TestClient) -> None:
    anonymous = client.post("/api/items/1/discount")
    assert anonymous.status_code == 401
    refused = client.post("/api/items/1/discount", headers=token_for(client, "bob"))
    assert refused.status_code == 403 and "item.change" in refused.json()["detail"]
    assert client.get("/api/items/1").json()["price"] == 12.5


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found is not None, f"no hidden {name} in the page"
    return html.unescape(found.group(1))


def test_login_page_then_account_then_logout(client: TestClient) -> None:
    assert client.get("/account", follow_redirects=False).headers["location"] == (
        "/login?next=/account"
    )
    page = client.get("/login?next=/account").text
    form = {"csrf_token": hidden(page, "csrf_token"), "next": hidden(page, "next")}
    wrong = client.post("/login", data={**form, "username": "bob", "password": "nope"})
    assert wrong.status_code == 400 and "Wrong username or password." in wrong.text
    good = {**form, "username": "bob", "password": DEMO_USERS["bob"][0]}
    logged_in = client.post("/login", data=good, follow_redirects=False)
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/account"
    account = client.get("/account")
    assert "Hello, bob" in account.text and "do not have the <code>item.change" in account.text
    assert "Welcome, bob." in account.text  # the flash message, shown once
    assert "Welcome, bob." not in client.get("/account").text
    token = hidden(account.text, "csrf_token")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_login_refuses_a_redirect_to_another_site(client: TestClient) -> None:
    page = client.get("/login?next=https://evil.example/").text
    assert hidden(page, "next") == "/account"
    form = {
        "csrf_token": hidden(page, "csrf_token"),
        "next": "//evil.example/",
        "username": "alice",
        "password": DEMO_USERS["alice"][0],
    }
    answer = client.post("/login", data=form, follow_redirects=False)
    assert answer.headers["location"] == "/account"


def test_a_form_post_without_the_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")  # the browser now holds the CSRF cookie
    form = {"username": "alice", "password": DEMO_USERS["alice"][0]}
    refused = client.post("/login", data=form)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]


def log_in(client: TestClient, username: str) -> None:
    page = client.get("/login").text
    form = {"csrf_token": hidden(page, "csrf_token"), "next": "/account"}
    form.update(username=username, password=DEMO_USERS[username][0])
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def test_the_item_form_is_for_users_who_may_add_items(client: TestClient) -> None:
    anonymous = client.get("/items/new", follow_redirects=False)
    assert anonymous.headers["location"] == "/login?next=/items/new"
    log_in(client, "bob")
    refused = client.get("/items/new")
    assert refused.status_code == 403 and "item.add" in refused.text


def test_the_item_form_shows_errors_then_adds_the_item(client: TestClient) -> None:
    log_in(client, "alice")
    page = client.get("/items/new").text
    token = hidden(page, "csrf_token")
    bad = {"csrf_token": token, "name": "<script>x</script>", "price": "0", "category_id": "1"}
    shown = client.post("/items/new", data=bad)
    assert shown.status_code == 422
    assert "&lt;script&gt;x&lt;/script&gt;" in shown.text and "<script>x" not in shown.text
    assert "greater than 0" in shown.text
    good = {"csrf_token": token, "name": "Saw", "price": "9.5", "category_id": "1"}
    listed = client.post("/items/new", data=good)
    assert listed.status_code == 200 and "Saw" in listed.text and "Added" in listed.text
    assert names(client.get("/api/items?name=Saw")) == ["Saw"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(base: str, process: subprocess.Popen[str], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo exited with status {process.returncode}")
        try:
            httpx.get(base, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail("the demo did not answer within 20 s")


def test_python_m_examples_demo_migrates_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "PROW_DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base, process, time.monotonic() + 20)
        assert httpx.get(base).json()["docs"] == "/docs"
        assert httpx.get(f"{base}/api/items").json()["total"] == 5
        assert httpx.get(f"{base}/api/stats").json()["items"] == 5
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "Applied migration" in output and "create the catalogue" in output
    assert f"prow demo on {base}  (API docs: {base}/docs)" in output
    assert (tmp_path / "run.sqlite3").is_file()


def test_personal_pages_are_not_stored_by_shared_caches(client: TestClient) -> None:
    # REDbot found /login storable by a shared cache: it sets the CSRF cookie.
    login = client.get("/login")
    assert login.headers.get_list("set-cookie") and login.headers["cache-control"] == "no-store"
    client.cookies.clear()
    assert "cache-control" not in client.get("/api/items").headers  # the same for everyone
    alice = token_for(client, "alice")
    assert client.get("/api/items", headers=alice).headers["cache-control"] == "no-store"
