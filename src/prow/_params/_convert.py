"""Converters from raw request strings to typed values, compiled once per parameter.

Plain ``int``/``float``/``bool``/``str`` parameters are the common case on hot routes,
so they get hand-written converters whose errors match pydantic's wording and
types; everything else goes through a pydantic ``TypeAdapter``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from pydantic_core import ValidationError

from prow._params._errors import error_entries

__all__ = ["ConversionError", "Converter", "make_converter"]


class ConversionError(Exception):
    """A raw value did not convert; ``entries`` are problem entries without the prefix."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries


Converter = Callable[[Any], Any]


def _error(kind: str, expected: str, raw: Any) -> ConversionError:
    """An error worded as pydantic words it, so fast and slow paths read the same."""
    return ConversionError(
        [{"loc": [], "msg": f"Input should be {expected}", "type": kind, "input": raw}]
    )


def _int(raw: Any) -> int:
    if type(raw) is int:
        return raw
    if isinstance(raw, str) and "_" not in raw:
        try:
            return int(raw)
        except ValueError:
            pass
    raise _error("int_parsing", "a valid integer, unable to parse string as an integer", raw)


def _float(raw: Any) -> float:
    if type(raw) is float:
        return raw
    if isinstance(raw, str) and "_" not in raw:
        try:
            value = float(raw)
        except ValueError:
            pass
        else:
            # "nan" and "inf" parse, but no client means them; they poison comparisons
            # and sums, so a plain float parameter refuses them.
            if math.isfinite(value):
                return value
            raise _error("finite_number", "a finite number", raw)
    raise _error("float_parsing", "a valid number, unable to parse string as a number", raw)


_TRUE = frozenset(("1", "true", "t", "yes", "y", "on"))
_FALSE = frozenset(("0", "false", "f", "no", "n", "off"))


def _bool(raw: Any) -> bool:
    value = str(raw).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise _error("bool_parsing", "a valid boolean, unable to interpret input", raw)


def _str(raw: Any) -> str:
    return str(raw)


_FAST: dict[Any, Converter] = {int: _int, float: _float, bool: _bool, str: _str}


def make_converter(annotation: Any, constraints: dict[str, Any]) -> Converter:
    """Build the converter for one parameter; pydantic only when the type needs it."""
    if not constraints and annotation in _FAST:
        return _FAST[annotation]
    from pydantic import Field, TypeAdapter

    target: Any = Annotated[annotation, Field(**constraints)] if constraints else annotation
    adapter: TypeAdapter[Any] = TypeAdapter(target)
    validate = adapter.validate_python

    def convert(raw: Any) -> Any:
        try:
            return validate(raw)
        except ValidationError as exc:
            raise ConversionError(error_entries(exc, [])) from None

    return convert
