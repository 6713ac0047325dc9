"""The demo (examples/demo) serves its catalogue over GraphQL with the REST API's permissions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from prow.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:  # ``examples`` lives at the repository root, outside the src layout
    sys.path.insert(0, str(ROOT))

from examples.demo.app import DEMO_USERS, create_app, prepare  # noqa: E402


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    prepare(url)
    with TestClient(create_app(url)) as client:
        yield client


def _token(client: TestClient, user: str) -> str:
    password = DEMO_USERS[user][0]
    answer = client.post("/auth/token", data={"username": user, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_the_catalogue_over_graphql(client: TestClient) -> None:
    query = """{ items(order: "-price", filter: {price__gte: 4}) {
        totalCount edges { node { name price category { name } } } } }"""
    answer = client.post("/graphql", json={"query": query}).json()
    page = answer["data"]["items"]
    assert page["totalCount"] == 3
    assert [edge["node"]["name"] for edge in page["edges"]] == [
        "Spirit level",
        "Hammer",
        "Screwdriver",
    ]
    assert page["edges"][0]["node"]["category"] == {"name": "tools"}


def test_writes_need_the_same_permissions_as_over_rest(client: TestClient) -> None:
    mutation = {"query": "mutation { updateItem(id: 1, data: {price: 99}) { name price } }"}
    answer = client.post("/graphql", json=mutation).json()
    assert answer["errors"][0]["extensions"]["status"] == 401
    bob = {"authorization": f"Bearer {_token(client, 'bob')}"}
    answer = client.post("/graphql", json=mutation, headers=bob).json()
    assert answer["errors"][0]["extensions"] == {"code": "FORBIDDEN", "status": 403}
    alice = {"authorization": f"Bearer {_token(client, 'alice')}"}
    answer = client.post("/graphql", json=mutation, headers=alice).json()
    assert answer == {"data": {"updateItem": {"name": "Hammer", "price": 99.0}}}
    assert client.get("/api/items/1").json()["price"] == 99.0
