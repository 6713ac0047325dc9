"""Questions the planner asks about type annotations, answered without touching a request."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Union, get_args, get_origin

import typing_extensions

__all__ = ["is_model_like", "is_sequence", "split_annotated", "unwrap_optional"]

_SEQUENCE_ORIGINS = (list, set, frozenset, tuple, Sequence)


def split_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, a, b]`` → ``(T, [a, b])``; anything else → ``(annotation, [])``."""
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        inner, more = split_annotated(base)
        return inner, more + metadata
    return annotation, []


def unwrap_optional(annotation: Any) -> Any:
    """``T | None`` → ``T``; unions of several types stay as they are."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def is_sequence(annotation: Any) -> bool:
    """True for ``list[int]``, ``tuple[str, ...]``, ``set[str] | None`` and friends."""
    base = unwrap_optional(split_annotated(annotation)[0])
    origin = get_origin(base)
    return base in (list, set, tuple, frozenset) or origin in _SEQUENCE_ORIGINS


def sequence_item(annotation: Any) -> Any:
    base = unwrap_optional(split_annotated(annotation)[0])
    args = get_args(base)
    return args[0] if args else Any


def is_model_like(annotation: Any) -> bool:
    """True when a value of this type can only come from a structured body."""
    base = unwrap_optional(split_annotated(annotation)[0])
    if get_origin(base) in (list, tuple, set, frozenset, Sequence):
        return is_model_like(sequence_item(base))
    if get_origin(base) in (dict, Mapping) or base in (dict, Mapping):
        return True
    if not isinstance(base, type):
        return False
    return (
        (hasattr(base, "__pydantic_core_schema__") and hasattr(base, "model_fields"))
        or dataclasses.is_dataclass(base)
        # typing_extensions' check also knows its own TypedDict, which pydantic requires
        # before Python 3.12 (``typing.is_typeddict`` says False for those).
        or typing_extensions.is_typeddict(base)
    )
