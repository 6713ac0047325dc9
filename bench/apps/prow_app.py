"""prow with its defaults (OpenAPI and docs routes on, as a user gets them)."""

from __future__ import annotations

from typing import Any

from bench.apps._models import Item
from prow import App, PlainTextResponse

app = App()


@app.get("/plaintext")
async def plaintext() -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


@app.get("/json")
async def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@app.get("/users/{user_id}")
async def user(user_id: int, q: str | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "q": q}


@app.post("/items", status_code=200)
async def items(item: Item) -> Item:
    return item
