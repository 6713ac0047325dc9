"""The demo app (examples/demo): its migration, its resources, its own routes, and its launcher."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prow.db import showmigrations, use_database
from prow.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # ``examples`` lives at the repository root, outside the src layout
    sys.path.insert(0, str(ROOT))

from examples.demo.app import MIGRATIONS, Category, Item, app, prepare  # noqa: E402


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"


@pytest.fixture
def client(url: str) -> Iterator[TestClient]:
    """The demo on a fresh SQLite file: migrated, seeded, lifespan running."""
    use_database(app, url)
    prepare(url)
    with TestClient(app) as client:
        yield client


def names(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return [item["name"] for item in page.json()["items"]]


def test_prepare_migrates_then_seeds_only_once(url: str) -> None:
    (applied,) = prepare(url)
    assert applied.message == "create the catalogue" and applied.applied
    assert showmigrations(url=url, directory=MIGRATIONS) == [applied]
    assert prepare(url) == []  # nothing pending, and the seed sees rows already

    use_database(app, url)
    with TestClient(app) as client:
        assert client.get("/api/items").json()["total"] == 5


def test_the_migration_matches_the_models() -> None:
    # A model changed without a new migration would be missing from a fresh database.
    versions = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert versions, "examples/demo/migrations/versions holds no migration"
    text = "\n".join(path.read_text(encoding="utf-8") for path in versions)
    for table in (Category.__tablename__, Item.__tablename__):
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
    created = client.post("/api/items", json={"name": "Saw", "price": 15.0, "category_id": 1})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == 6 and body["name"] == "Saw" and body["created_at"]
    assert client.get("/api/items/6").json()["category"] == {"id": 1, "name": "tools"}
    assert client.get("/api/items?price__gte=15").json()["total"] == 2


def test_create_refuses_what_the_database_would_not_store(client: TestClient) -> None:
    negative = client.post("/api/items", json={"name": "Gift", "price": -1, "category_id": 1})
    assert negative.status_code == 422
    assert negative.json()["constraint"] == "ck_item_price_positive"

    orphan = client.post("/api/items", json={"name": "Gift", "price": 1, "category_id": 99})
    assert orphan.status_code == 409
    assert orphan.json()["violation"] == "foreign_key"

    assert client.post("/api/items", json={"name": "Gift"}).status_code == 422
    assert client.post("/api/categories", json={"name": "tools"}).status_code == 409
    assert client.get("/api/items").json()["total"] == 5  # nothing was stored


def test_missing_rows_are_404(client: TestClient) -> None:
    missing = client.get("/api/items/999")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Item 999 does not exist."
    assert client.delete("/api/items/999").status_code == 404
    by_hand = client.post("/api/items/999/discount")  # get_or_404 in a hand-written route
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
    client.post("/api/categories", json={"name": "books"})
    client.delete("/api/items/4")
    stats = client.get("/api/stats").json()
    assert stats["items"] == 4
    assert stats["categories"][0] == {"category": "books", "items": 0, "average_price": None}


def test_discount_is_committed(client: TestClient) -> None:
    changed = client.post("/api/items/1/discount?percent=20")
    assert changed.json() == {"id": 1, "name": "Hammer", "old_price": 12.5, "new_price": 10.0}
    assert client.get("/api/items/1").json()["price"] == 10.0
    too_much = client.post("/api/items/1/discount?percent=95")
    assert too_much.status_code == 422
    assert client.get("/api/items/1").json()["price"] == 10.0


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
