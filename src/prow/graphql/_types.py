"""Python and pydantic types as Strawberry types: the one place that maps them.

A model's object type is made from its read schema's fields (the fields the REST API shows, so
sensitive columns never appear), its input types from the create and update schemas, its
filter input from the list's filters. Values keep their Python types: numbers, text, booleans,
dates and times, decimals and UUIDs map to GraphQL's scalars, enums to GraphQL enums; anything
else (a JSON column, a nested pydantic model) is sent as Strawberry's ``JSON`` scalar.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import strawberry
from strawberry.scalars import JSON
from strawberry.types.unset import UNSET

__all__ = ["graphql_type", "input_class", "make_type"]

_SCALARS: tuple[type[Any], ...] = (
    bool,
    int,
    float,
    str,
    datetime.datetime,
    datetime.date,
    datetime.time,
    decimal.Decimal,
    uuid.UUID,
)
_NONE = type(None)


def graphql_type(annotation: Any, enums: dict[type[Any], Any]) -> Any:
    """The Strawberry annotation for values of the Python ``annotation``.

    ``enums`` keeps the Strawberry enum made for each Python enum, so that two models sharing
    one enum share its GraphQL type.
    """
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return graphql_type(typing.get_args(annotation)[0], enums)
    if origin in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not _NONE]
        inner = graphql_type(args[0], enums) if len(args) == 1 else JSON
        return inner | None if len(args) < len(typing.get_args(annotation)) else inner
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        items = typing.get_args(annotation)
        return list[graphql_type(items[0], enums)] if items else JSON  # type: ignore[misc]
    if origin is Literal:
        values = typing.get_args(annotation)
        return str if all(isinstance(value, str) for value in values) else JSON
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        made = enums.get(annotation)
        if made is None:
            made = enums[annotation] = strawberry.enum(annotation)
        return made
    if annotation in _SCALARS:
        return annotation
    return JSON


def make_type(
    name: str,
    annotations: dict[str, Any],
    fields: dict[str, Any] | None = None,
    *,
    description: str | None = None,
    is_input: bool = False,
) -> Any:
    """A Strawberry object (or input) type named ``name`` with these fields."""
    namespace: dict[str, Any] = {"__annotations__": dict(annotations), "__module__": __name__}
    namespace.update(fields or {})
    cls = type(name, (), namespace)
    if is_input:
        return strawberry.input(cls, name=name, description=description)
    return strawberry.type(cls, name=name, description=description)


def input_class(
    name: str,
    fields: Mapping[str, tuple[Any, bool, str | None]],
    enums: dict[type[Any], Any],
    description: str | None = None,
) -> Any:
    """An input type: ``python name -> (annotation, required, GraphQL name or None)``.

    An optional field defaults to ``UNSET``, so that "not given" differs from ``null``
    (a partial update sets only the fields it names).
    """
    annotations: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for key, (annotation, required, graphql_name) in fields.items():
        kind = graphql_type(annotation, enums)
        if required:
            annotations[key] = kind
            defaults[key] = strawberry.field(name=graphql_name)
        else:
            annotations[key] = kind if _nullable(kind) else kind | None
            defaults[key] = strawberry.field(name=graphql_name, default=UNSET)
    return make_type(name, annotations, defaults, description=description, is_input=True)


def _nullable(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and _NONE in typing.get_args(
        kind
    )


def given(value: Any) -> dict[str, Any]:
    """The fields of an input object that the client gave (``UNSET`` ones left out)."""
    return {
        key: getattr(value, key)
        for key in value.__annotations__
        if getattr(value, key, UNSET) is not UNSET
    }
