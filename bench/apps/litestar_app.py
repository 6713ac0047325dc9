"""Litestar with msgspec Structs for the body: its native, idiomatic (and fastest) validator.

Parameters use the explicit markers (``FromPath``, ``FromQuery``, ``JSONBody``) that Litestar 2.x
recommends over the deprecated inferred style.

Its defaults stay on (OpenAPI schema routes included). POST answers 200, like every other app,
instead of Litestar's default 201.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Litestar, MediaType, get, post
from litestar.params import FromPath, FromQuery, JSONBody


class Dimensions(msgspec.Struct):
    width: float
    height: float
    depth: float


class Variant(msgspec.Struct):
    sku: Annotated[str, msgspec.Meta(min_length=1)]
    price: Annotated[float, msgspec.Meta(gt=0)]
    stock: Annotated[int, msgspec.Meta(ge=0)]


class Item(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    price: Annotated[float, msgspec.Meta(gt=0)]
    quantity: Annotated[int, msgspec.Meta(ge=0)]
    available: bool
    tags: list[str]
    dimensions: Dimensions
    variants: list[Variant]
    description: str | None = None


@get("/plaintext", media_type=MediaType.TEXT)
async def plaintext() -> str:
    return "Hello, World!"


@get("/json")
async def json_() -> dict[str, str]:
    return {"message": "Hello, World!"}


@get("/users/{user_id:int}")
async def user(user_id: FromPath[int], q: FromQuery[str | None] = None) -> dict[str, Any]:
    return {"user_id": user_id, "q": q}


@post("/items", status_code=200)
async def items(data: JSONBody[Item]) -> Item:
    return data


app = Litestar(route_handlers=[plaintext, json_, user, items])
