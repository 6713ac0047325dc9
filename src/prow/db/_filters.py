"""List query parameters of a ``Resource``: filters with Django-style lookups, ordering, fields.

Everything here is planned once, when the resource is built: each declared filter field
becomes a set of typed query parameters (``price``, ``price__gte``, ``price__in``...) that
the parameter planner validates and OpenAPI documents. A request only turns the already
converted values into SQLAlchemy expressions.

Threat: a filter value reaching SQL as text would be an injection. Values are only ever
passed to SQLAlchemy operators (``==``, ``in_``, ``contains(..., autoescape=True)``), which
send them as bound parameters; column names come from the declared fields, never from the
request.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from prow._exceptions import HTTPError
from prow.db._schemas import input_type

__all__ = [
    "FilterParam",
    "OrderPlan",
    "comma_list",
    "filter_params",
    "parse_fields",
    "unknown_parameter",
]

#: Lookups every filter field has.
_BASIC = ("exact", "in", "isnull")
#: Lookups for values with an order (numbers, dates, text).
_RANGE = ("gt", "gte", "lt", "lte")
#: Lookups for text.
_TEXT = ("contains", "icontains", "startswith", "istartswith")
_ORDERED = (int, float, decimal.Decimal, datetime.date, datetime.datetime, datetime.time, str)

Expression = Callable[[Any, Any], Any]

_EXPRESSIONS: dict[str, Expression] = {
    "exact": lambda column, value: column == value,
    "gt": lambda column, value: column > value,
    "gte": lambda column, value: column >= value,
    "lt": lambda column, value: column < value,
    "lte": lambda column, value: column <= value,
    "in": lambda column, values: column.in_(values),
    # autoescape: a % or _ typed by the user matches itself, not any character.
    "contains": lambda column, value: column.contains(value, autoescape=True),
    "icontains": lambda column, value: column.icontains(value, autoescape=True),
    "startswith": lambda column, value: column.startswith(value, autoescape=True),
    "istartswith": lambda column, value: column.istartswith(value, autoescape=True),
    "isnull": lambda column, value: column.is_(None) if value else column.is_not(None),
}


def _split_commas(value: Any) -> Any:
    # ``?id__in=1,2&id__in=3`` → ["1", "2", "3"]: both spellings are accepted.
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
    return value


def comma_list(item: Any, constraints: dict[str, Any] | None = None) -> Any:
    """An optional ``list[item]`` read from comma-separated (or repeated) query values.

    ``constraints`` (``Field`` keywords such as ``ge``/``le``) apply to each item.
    """
    if constraints:
        item = Annotated[item, Field(**constraints)]
    # The validator sits outside the Optional so the planner still sees a list.
    return Annotated[list[item] | None, BeforeValidator(_split_commas)]


#: What each lookup means, for the OpenAPI description of its parameter.
DESCRIPTIONS = {
    "exact": "equal to",
    "gt": "greater than",
    "gte": "greater than or equal to",
    "lt": "less than",
    "lte": "less than or equal to",
    "in": "one of (comma-separated)",
    "contains": "containing",
    "icontains": "containing, ignoring case,",
    "startswith": "starting with",
    "istartswith": "starting, ignoring case, with",
    "isnull": "null (true) or not null (false):",
}


@dataclasses.dataclass(frozen=True, slots=True)
class FilterParam:
    """One query parameter of a list endpoint: ``alias`` is its name in the URL."""

    alias: str
    field: str
    lookup: str
    annotation: Any
    column: Any
    #: ``Field`` constraints of a single value (ranges, finiteness), for the query marker.
    constraints: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def takes_list(self) -> bool:
        return self.lookup == "in"

    @property
    def description(self) -> str:
        return f"Rows whose {self.field} is {DESCRIPTIONS[self.lookup]} the value."

    def condition(self, value: Any) -> Any:
        """The SQLAlchemy condition for a converted ``value`` (always a bound parameter)."""
        return _EXPRESSIONS[self.lookup](self.column, value)


def lookups_for(python_type: Any) -> tuple[str, ...]:
    """The lookups a field of ``python_type`` supports."""
    if python_type is bool:
        return _BASIC
    lookups: tuple[str, ...] = _BASIC
    if isinstance(python_type, type) and issubclass(python_type, _ORDERED):
        lookups = (*lookups, *_RANGE)
    if python_type is str:
        lookups = (*lookups, *_TEXT)
    return lookups


def filter_params(
    field: str, column: Any, python_type: Any, constraints: dict[str, Any] | None = None
) -> list[FilterParam]:
    """Every query parameter filtering on ``field``: ``field``, ``field__gte``...

    ``constraints`` are those of the column's values (see ``value_constraints``): a
    filter value the column could not hold is a 422, not a driver error.
    ``field__exact`` is accepted as a second spelling of ``field``.
    """
    constraints = constraints or {}
    if python_type is datetime.datetime:
        column = comparable_datetime(column)
    value_type = input_type(python_type, getattr(column, "type", None))
    params = []
    for lookup in lookups_for(python_type):
        aliases = [field, f"{field}__exact"] if lookup == "exact" else [f"{field}__{lookup}"]
        limits = constraints
        if lookup == "in":
            annotation, limits = comma_list(value_type, constraints), {}
        elif lookup == "isnull":
            annotation, limits = bool | None, {}
        else:
            annotation = value_type | None
        for alias in aliases:
            params.append(FilterParam(alias, field, lookup, annotation, column, limits))
    return params


class _ComparableDateTime(FunctionElement[Any]):
    """A datetime column compared in one text format, whichever way the row was written.

    SQLite keeps datetimes as text: SQLAlchemy writes ``2026-11-23 21:44:03.000000``,
    while ``server_default=func.now()`` (``CURRENT_TIMESTAMP``) writes
    ``2026-11-23 21:44:03``. Compared as text against a bound value in SQLAlchemy's
    format, the shorter form never equals it, so ``?created_at=`` missed the very value
    the API showed. On SQLite the column is padded to SQLAlchemy's format before the
    comparison; other databases have a real datetime type and see the bare column.
    """

    name = "prow_comparable_datetime"
    inherit_cache = True

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


def comparable_datetime(column: Any) -> Any:
    """``column`` wrapped so that comparisons with datetimes match on every database."""
    return _ComparableDateTime(column)


@compiles(_ComparableDateTime)
def _bare_column(element: _ComparableDateTime, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


# 19 characters: "YYYY-MM-DD HH:MM:SS", the form without the fraction SQLAlchemy writes.
@compiles(_ComparableDateTime, "sqlite")
def _padded_column(element: _ComparableDateTime, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(CASE WHEN length({column}) = 19 THEN {column} || '.000000' ELSE {column} END)"


def unknown_parameter(key: str, filters: dict[str, list[str]], reserved: Iterable[str]) -> str:
    """The 400 detail for a query key the list endpoint does not know."""
    field, _, lookup = key.partition("__")
    if field in filters and lookup:
        return (
            f"unknown lookup {lookup!r} for field {field!r}; "
            f"allowed lookups: {', '.join(filters[field])}"
        )
    allowed = ", ".join(sorted(filters)) or "none"
    return (
        f"cannot filter on {key!r}; filterable fields: {allowed} "
        f"(with lookups field__gt, field__in... where the type allows); "
        f"other parameters: {', '.join(reserved)}"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class OrderPlan:
    """The fields a list may be ordered by, its default order and the key tiebreaker."""

    columns: dict[str, Any]
    default: tuple[str, ...]
    tiebreaker: Any

    def clauses(self, order: str | None) -> list[Any]:
        """``"-price,name"`` → ORDER BY clauses; an unknown field is a 400 listing the allowed."""
        names = _split_order(order) if order else self.default
        clauses = []
        for name in names:
            descending = name.startswith("-")
            key = name[1:] if name[:1] in ("-", "+") else name
            column = self.columns.get(key)
            if column is None:
                allowed = ", ".join(sorted(self.columns)) or "none"
                raise HTTPError(
                    400,
                    f"cannot order by {key!r}; allowed: {allowed} (prefix '-' for descending)",
                )
            clauses.append(column.desc() if descending else column.asc())
        # The primary key last: pages stay stable when the ordered values repeat.
        clauses.append(self.tiebreaker.asc())
        return clauses


def _split_order(order: str) -> tuple[str, ...]:
    return tuple(_names(order, "order"))


def _names(value: str, parameter: str) -> list[str]:
    """The comma-separated names of ``value``; spaces around them are allowed, gaps are not.

    What is accepted here is the ``pattern`` the OpenAPI document shows (``names_pattern``).
    """
    names = [part.strip(" ") for part in value.split(",")]
    if any(names) and not all(names):
        raise HTTPError(400, f"{parameter}= has an empty name between commas: {value!r}")
    return [name for name in names if name]


def parse_fields(fields: str | None, allowed: Sequence[str]) -> set[str] | None:
    """``"id,name"`` → ``{"id", "name"}``, checked against the read schema's fields."""
    if fields is None:
        return None
    chosen = set(_names(fields, "fields"))
    if not chosen:
        raise HTTPError(400, f"fields= needs at least one field name, among: {', '.join(allowed)}")
    unknown = sorted(chosen - set(allowed))
    if unknown:
        raise HTTPError(
            400, f"unknown field(s) {', '.join(unknown)} in 'fields'; allowed: {', '.join(allowed)}"
        )
    return chosen
