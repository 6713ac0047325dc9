"""The prow demo: a small typed API with validation, dependencies and offline API docs.

Run it with ``python -m examples.demo`` from the repository root, then open
http://127.0.0.1:8000/docs.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from prow import App, Depends, HTTPError, Query, Router

app = App(title="prow demo", version="0.1.0", description="A tour of prow's core.")


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(gt=0)
    tags: list[str] = []


class Item(ItemIn):
    id: int


class Store:
    """An in-process store: the demo runs with no services at all."""

    def __init__(self) -> None:
        self.items: dict[int, Item] = {}
        self.next_id = 1

    def add(self, data: ItemIn) -> Item:
        item = Item(id=self.next_id, **data.model_dump())
        self.items[item.id] = item
        self.next_id += 1
        return item


store = Store()


def get_store() -> Store:
    return store


StoreDep = Annotated[Store, Depends(get_store)]

api = Router(prefix="/api", tags=["items"])


@app.get("/")
async def index() -> dict[str, str]:
    """Say hello and point at the docs."""
    return {"message": "Hello from prow", "docs": "/docs"}


@api.get("/items")
async def list_items(
    db: StoreDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    tag: str | None = None,
) -> list[Item]:
    """List items, optionally only those carrying ``tag``."""
    items = [i for i in db.items.values() if tag is None or tag in i.tags]
    return items[:limit]


@api.get("/items/{item_id}")
async def get_item(item_id: int, db: StoreDep) -> Item:
    """Fetch one item by id."""
    item = db.items.get(item_id)
    if item is None:
        raise HTTPError(404, f"item {item_id} does not exist")
    return item


@api.post("/items", status_code=201)
async def create_item(data: ItemIn, db: StoreDep) -> Item:
    """Create an item from a validated JSON body."""
    return db.add(data)


app.include(api)
