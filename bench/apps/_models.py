"""The pydantic models of ``POST /items``, shared by every app without a validation tool of its own.

The body is deliberately nested: eight fields, a list of nested objects, an optional, a float and
a bool, so validation does real work.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Dimensions(BaseModel):
    width: float
    height: float
    depth: float


class Variant(BaseModel):
    sku: str = Field(min_length=1)
    price: float = Field(gt=0)
    stock: int = Field(ge=0)


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str | None = None
    price: float = Field(gt=0)
    quantity: int = Field(ge=0)
    available: bool
    tags: list[str]
    dimensions: Dimensions
    variants: list[Variant]
