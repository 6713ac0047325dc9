"""The list action of a ``Resource``: filters, search, ordering, field choice and pagination.

``ListPlan`` is built once, when the resource is made, from its list options
(``filter_fields``, ``order_fields``, ``default_order``, ``search_fields``,
``cursor_field``, ``max_limit``, ``default_limit``) and its read schema. Building it
checks the options (``prow.E510``, ``prow.E511``) and works out the typed query
parameters of the list handler, the page schema and everything a request needs; a
request then only runs the plan: ``check_query`` refuses keys the list does not know,
``page`` turns the validated values into SQL and the rows into the answer.

When the read schema is prow's own (every field a plain column) and nothing is eager-loaded,
a page selects those columns (``select(Model.id, Model.name, ...)``) instead of whole objects:
the same SQL filters and ORM criteria (inheritance, loader criteria) apply, but no object,
identity-map entry or attribute state is made per row, which makes a page about a third
cheaper. Any other read schema gets ORM objects, as its validators may expect.

A resource whose ``get_query`` scopes rows per request hands ``page`` the scoped statement
(``select`` narrowed for that request): such a page builds its statements per request, and its
``total`` counts the scoped statement as a subquery, so joins and conditions added there count
too. Resources without it keep the prepared statements.

Pagination is by ``limit``/``offset`` (with a ``total``), or by keyset when the resource
has a ``cursor_field``: the opaque ``cursor`` token holds the last value seen and the
direction. The field choice (``?fields=id,name``) is shared with the retrieve action
through ``fields_param`` and ``render``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import inspect
import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import pydantic
import pydantic_core
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from prow._datastructures import QueryParams
from prow._exceptions import ConfigurationError, HTTPError
from prow._params._markers import Query
from prow.db._filters import FilterParam, OrderPlan, filter_params, parse_fields, unknown_parameter
from prow.db._schemas import column_python_type, is_sensitive, mapper_of, value_constraints
from prow.responses import Response

__all__ = ["MAX_OFFSET", "Fetched", "ListPlan", "fields_param", "keyword_param", "render"]

#: The largest ``offset`` a list accepts: past it a database scans in vain (and the value
#: could overflow the driver's integer type).
MAX_OFFSET = 2**31 - 1


class ListPlan:
    """How one resource lists its rows, worked out from its options when it is made."""

    def __init__(
        self,
        model: type[Any],
        *,
        key: Any,
        read_schema: type[pydantic.BaseModel],
        loads: Sequence[Any],
        plain_rows: bool,
        filter_fields: Sequence[str],
        order_fields: Sequence[str],
        default_order: str | Sequence[str] | None,
        search_fields: Sequence[str],
        cursor_field: str | None,
        max_limit: int,
        default_limit: int,
    ) -> None:
        if not 1 <= default_limit <= max_limit:
            raise ConfigurationError(
                "prow.E510",
                f"default_limit={default_limit} must be between 1 and max_limit={max_limit}",
            )
        self._model = model
        self._max_limit, self._default_limit = max_limit, default_limit
        columns = _Columns(model)
        filters = _filter_params(columns, filter_fields)
        #: (handler parameter name, filter): where each filter's value is in the handler's values.
        self._filter_values = tuple((f"filter_{i}", param) for i, param in enumerate(filters))
        self._single_value = tuple(param for param in filters if not param.takes_list)
        self._lookups: dict[str, list[str]] = {name: [] for name in filter_fields}
        for param in filters:
            if param.lookup not in self._lookups[param.field]:
                self._lookups[param.field].append(param.lookup)
        self._order = _order_plan(columns, order_fields, default_order, key)
        self._search = [columns.get("search_fields", name) for name in search_fields]
        self._cursor = None if cursor_field is None else _Cursor.on(columns, cursor_field)
        self._reserved: tuple[str, ...] = ("limit", "offset", "order", "fields")
        if self._search:
            self._reserved += ("search",)
        if self._cursor is not None:
            self._reserved += ("cursor",)
        self._query_names = frozenset((*self._reserved, *(f.alias for f in filters)))
        self._loads = tuple(loads)
        self._read_schema = read_schema
        self._read_fields = list(read_schema.model_fields)
        self.page_schema = _page_schema(model, read_schema, self._cursor is not None)
        self._page_adapter = pydantic.TypeAdapter(self.page_schema)
        self._page_fields = {key: True for key in self.page_schema.model_fields}
        self._row_columns = self._plain_columns(columns) if plain_rows and not loads else ()
        if self._row_columns:
            self._select = sa.select(*self._row_columns)
        else:
            self._select = sa.select(model).options(*self._loads)
        self._count = sa.select(sa.func.count()).select_from(model)
        # The plain first request of a list (no filter, the default order) runs statements
        # built here, once: SQLAlchemy then skips building and coercing them per request.
        self._default_page = (
            self._select.order_by(*self._order.clauses(None))
            .limit(sa.bindparam("_limit"))
            .offset(sa.bindparam("_offset"))
        )

    def _plain_columns(self, columns: _Columns) -> tuple[Any, ...]:
        """The attributes a page selects instead of objects, or ``()`` when objects are needed."""
        mapped = columns.mapper.column_attrs
        names = list(self._read_fields)
        if not all(name in mapped for name in names):
            return ()  # a field that is not a column (a property, a relationship): objects
        if self._cursor is not None and self._cursor.name not in names:
            names.append(self._cursor.name)  # the next cursor is read from the last row
        return tuple(getattr(self._model, name) for name in names)

    @property
    def select(self) -> sa.Select[Any]:
        """The statement a page starts from, for a resource's ``get_query`` to scope."""
        return self._select

    def params(self) -> list[inspect.Parameter]:
        """The typed query parameters of the list handler, for the planner and OpenAPI."""
        order_doc = ", ".join(sorted(self._order.columns)) or "none"
        order_marker = Query(
            description=f"Comma-separated fields, '-' for descending: {order_doc}."
        )
        order_pattern = f"^(?:{names_pattern(sorted(self._order.columns), '[-+]?')})?$"
        params = [
            keyword_param(
                "limit", Annotated[int, Query(ge=1, le=self._max_limit)], self._default_limit
            ),
            keyword_param("offset", Annotated[int, Query(ge=0, le=MAX_OFFSET)], 0),
            keyword_param(
                "order", Annotated[str | None, order_marker, _shown(order_pattern)], None
            ),
            fields_param(self._read_fields),
        ]
        if self._search:
            doc = "Rows containing this text (ignoring case) in any searched field."
            params.append(
                keyword_param("search", Annotated[str | None, Query(description=doc)], None)
            )
        if self._cursor is not None:
            doc = (
                f"Keyset pagination on {self._cursor.name}: empty for the first page, then "
                "the next_cursor of the previous page."
            )
            params.append(
                keyword_param("cursor", Annotated[str | None, Query(description=doc)], None)
            )
        for name, param in self._filter_values:
            marker = Query(alias=param.alias, description=param.description, **param.constraints)
            params.append(keyword_param(name, Annotated[param.annotation, marker], None))
        return params

    def check_query(self, query: QueryParams) -> None:
        """Refuse query keys the list does not know, and single-value filters given twice."""
        for key in query:
            if key not in self._query_names:
                if key == "cursor":
                    raise HTTPError(
                        400, "this resource has no cursor pagination; use limit and offset"
                    )
                raise HTTPError(400, unknown_parameter(key, self._lookups, self._reserved))
        for param in self._single_value:
            if param.alias in query and len(query.getlist(param.alias)) > 1:
                raise HTTPError(
                    400,
                    f"{param.alias} was given more than once; to match any of several "
                    f"values use {param.field}__in=a,b",
                )

    async def page(
        self,
        session: AsyncSession,
        values: Mapping[str, Any],
        scoped: sa.Select[Any] | None = None,
    ) -> Any:
        """The page the validated list parameters ``values`` ask for, as the answer.

        ``scoped`` is ``select`` as the resource's ``get_query`` narrowed it for this
        request; without it the page runs the statements prepared at start-up.
        """
        chosen = parse_fields(values["fields"], self._read_fields)
        fetched = await self.fetch(session, values, scoped)
        items = [self._read_schema.model_validate(row) for row in fetched.rows]
        limit = values["limit"]
        if values.get("cursor") is not None:
            page = self.page_schema(
                items=items, total=None, limit=limit, offset=None, next_cursor=fetched.next_cursor
            )
        else:
            page = self.page_schema(
                items=items, total=fetched.total, limit=limit, offset=values["offset"]
            )
        include = None if chosen is None else {**self._page_fields, "items": {"__all__": chosen}}
        return render(self._page_adapter, page, include)

    async def fetch(
        self,
        session: AsyncSession,
        values: Mapping[str, Any],
        scoped: sa.Select[Any] | None = None,
        *,
        count: bool = True,
    ) -> Fetched:
        """The rows of the page ``values`` ask for, before they are shaped into an answer.

        ``values`` holds ``limit``, ``offset``, ``order``, ``search``, ``cursor`` and the
        filters (``filter_values`` names them); the GraphQL API pages with it too. With
        ``count=False`` an offset page runs no ``COUNT`` (its ``total`` is None).
        """
        conditions = self._conditions(values)
        statement = self._select if scoped is None else scoped
        if conditions:
            statement = statement.where(*conditions)
        if values.get("cursor") is not None:
            return await self._cursor_rows(session, statement, values)
        scoped_now = scoped is not None
        return await self._offset_rows(session, statement, conditions, values, scoped_now, count)

    @property
    def filter_values(self) -> tuple[tuple[str, FilterParam], ...]:
        """``(key in values, filter)`` for every filter this list accepts."""
        return self._filter_values

    @property
    def cursor_name(self) -> str | None:
        """The column keyset pagination runs on, or None (limit and offset only)."""
        return None if self._cursor is None else self._cursor.name

    @property
    def searchable(self) -> bool:
        """Whether the list takes a ``search`` value."""
        return bool(self._search)

    def next_cursor(self, row: Any, descending: bool) -> str:
        """The keyset token of the position after ``row``."""
        assert self._cursor is not None
        return self._cursor.encode(getattr(row, self._cursor.name), descending)

    def _conditions(self, values: Mapping[str, Any]) -> list[Any]:
        conditions = []
        for name, param in self._filter_values:
            value = values[name]
            if value is not None:
                conditions.append(param.condition(value))
        search = values.get("search")
        if search:
            conditions.append(
                sa.or_(*(column.icontains(search, autoescape=True) for column in self._search))
            )
        return conditions

    async def _offset_rows(
        self,
        session: AsyncSession,
        statement: sa.Select[Any],
        conditions: list[Any],
        values: Mapping[str, Any],
        scoped: bool,
        count: bool = True,
    ) -> Fetched:
        limit, offset = values["limit"], values["offset"]
        if conditions or values["order"] or scoped:
            ordered = statement.order_by(*self._order.clauses(values["order"]))
            rows = await self._rows(session, ordered.limit(limit).offset(offset))
        else:
            page_of = {"_limit": limit, "_offset": offset}
            rows = await self._rows(session, self._default_page, page_of)
        total: int | None
        if not count:
            total = None
        elif offset == 0 and len(rows) < limit:
            total = len(rows)  # the whole result fits in this page: no COUNT needed
        else:
            total = (await session.scalar(self._counting(statement, conditions, scoped))) or 0
        return Fetched(rows, total, None, descending=False)

    def _counting(
        self, statement: sa.Select[Any], conditions: list[Any], scoped: bool
    ) -> sa.Select[Any]:
        """The ``COUNT`` of the rows ``statement`` pages through."""
        if scoped:
            # Counting the scoped statement itself keeps whatever get_query added (joins,
            # conditions) without asking it a second time.
            return sa.select(sa.func.count()).select_from(statement.subquery())
        return self._count.where(*conditions) if conditions else self._count

    async def _cursor_rows(
        self, session: AsyncSession, statement: sa.Select[Any], values: Mapping[str, Any]
    ) -> Fetched:
        cursor = self._cursor
        assert cursor is not None  # a cursor value is only accepted when there is a cursor
        limit, order = values["limit"], values["order"]
        if values["offset"]:
            raise HTTPError(400, "offset cannot be combined with cursor; use one or the other")
        if order not in cursor.orders:
            raise HTTPError(
                400, f"with a cursor the order can only be {cursor.name} or -{cursor.name}"
            )
        descending, after = cursor.decode(values["cursor"], order)
        column = cursor.column
        if after is not None:
            statement = statement.where(column < after if descending else column > after)
        statement = statement.order_by(column.desc() if descending else column.asc())
        rows = await self._rows(session, statement.limit(limit + 1))
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = cursor.encode(getattr(rows[-1], cursor.name), descending)
        return Fetched(rows, None, next_cursor, descending=descending)

    async def _rows(
        self, session: AsyncSession, statement: sa.Select[Any], params: dict[str, Any] | None = None
    ) -> Sequence[Any]:
        """The page's rows: named tuples of the selected columns, or ORM objects."""
        result: sa.Result[Any] = await session.execute(statement, params)
        if self._row_columns:
            return result.all()
        return result.scalars().all()


@dataclasses.dataclass(frozen=True, slots=True)
class Fetched:
    """The rows of one page; ``total`` with limit/offset, ``next_cursor`` with a cursor."""

    rows: Sequence[Any]
    total: int | None
    next_cursor: str | None
    descending: bool


class _Columns:
    """The columns of ``model`` that list options may name, checked when named."""

    def __init__(self, model: type[Any]) -> None:
        self._model = model
        self._mapper = mapper_of(model)

    @property
    def mapper(self) -> Any:
        """The model's mapper."""
        return self._mapper

    def get(self, option: str, name: str) -> Any:
        """The attribute of column ``name``; ``prow.E511`` if it is unknown or sensitive."""
        prop = self._mapper.column_attrs.get(name)
        if prop is None:
            allowed = ", ".join(p.key for p in self._mapper.column_attrs)
            raise ConfigurationError(
                "prow.E511",
                f"{option} names {name!r}, which is not a column of {self._model.__name__}; "
                f"its columns are {allowed}",
            )
        if is_sensitive(prop):
            # Filtering, searching or ordering on a hash answers questions about it
            # (password__startswith=$argon2id$...) even though it is never shown.
            raise ConfigurationError(
                "prow.E511",
                f"{option} names {name!r}, a sensitive column of {self._model.__name__} "
                "(info={'sensitive': True}); it cannot be filtered, searched or ordered on",
            )
        return getattr(self._model, name)


def _filter_params(columns: _Columns, filter_fields: Sequence[str]) -> list[FilterParam]:
    filters: list[FilterParam] = []
    for name in filter_fields:
        column = columns.get("filter_fields", name)
        limits = value_constraints(column.property.columns[0])
        python_type = column_python_type(column.property.columns[0])
        filters.extend(filter_params(name, column, python_type, limits))
    return filters


def _order_plan(
    columns: _Columns,
    order_fields: Sequence[str],
    default_order: str | Sequence[str] | None,
    key: Any,
) -> OrderPlan:
    named = {name: columns.get("order_fields", name) for name in order_fields}
    if isinstance(default_order, str):
        default_order = [default_order]
    default = tuple(default_order or ())
    plan = OrderPlan(named, default, key)
    for name in default:
        plan.clauses(name)  # an unknown name fails now, not at a request
    return plan


@dataclasses.dataclass(frozen=True, slots=True)
class _Cursor:
    """Keyset pagination on one unique, ordered column; tokens are base64 JSON."""

    column: Any
    name: str
    #: Checks a token's value: it goes into a SQL comparison, so it must be one the column
    #: can hold, or the driver fails (a huge integer overflows into a 500).
    adapter: pydantic.TypeAdapter[Any]
    #: The values ``order`` may have along with a cursor.
    orders: tuple[str | None, ...]

    @classmethod
    def on(cls, columns: _Columns, name: str) -> _Cursor:
        column = columns.get("cursor_field", name)
        adapter = pydantic.TypeAdapter(_bounded(column.property.columns[0]))
        return cls(column, name, adapter, (None, name, f"-{name}"))

    @staticmethod
    def encode(value: Any, descending: bool) -> str:
        data = pydantic_core.to_json({"v": value, "d": descending})
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    def decode(self, token: str, order: str | None) -> tuple[bool, Any]:
        """``(descending, last value seen)``; an empty token starts at the first page."""
        if not token:
            return bool(order and order.startswith("-")), None
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            value = self.adapter.validate_python(data["v"])
            descending = data["d"]
            if not isinstance(descending, bool):
                raise TypeError("d must be a boolean")
        except (ValueError, KeyError, TypeError, binascii.Error, pydantic.ValidationError):
            raise HTTPError(
                400,
                f"invalid cursor (not a position in {self.name}); pass the next_cursor "
                "of a previous page, or an empty one",
            ) from None
        if order is not None and order.startswith("-") != descending:
            raise HTTPError(400, "the order changed between pages; start again with cursor=")
        return descending, value


def _bounded(column: Any) -> Any:
    """The Python type of ``column``'s values, with the limits the column type sets."""
    python_type = column_python_type(column)
    limits = value_constraints(column)
    return Annotated[python_type, pydantic.Field(**limits)] if limits else python_type


def _page_schema(model: type[Any], read: type[pydantic.BaseModel], cursor: bool) -> Any:
    fields: dict[str, Any] = {
        "items": (list[read], ...),  # type: ignore[valid-type]
        "total": (int | None, ...),
        "limit": (int, ...),
        "offset": (int | None, ...),
    }
    if cursor:
        fields["next_cursor"] = (str | None, None)
    return pydantic.create_model(f"{read.__name__}Page", __module__=model.__module__, **fields)


def keyword_param(
    name: str, annotation: Any, default: Any = inspect.Parameter.empty
) -> inspect.Parameter:
    """A keyword-only parameter of a generated handler (required unless given a default)."""
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def fields_param(read_fields: Sequence[str]) -> inspect.Parameter:
    """The ``fields`` query parameter: which of ``read_fields`` the answer shows."""
    allowed = ", ".join(read_fields)
    marker = Query(description=f"Comma-separated fields to return, among: {allowed}.")
    shown = _shown(f"^{names_pattern(read_fields)}$")
    return keyword_param("fields", Annotated[str | None, marker, shown], None)


def _shown(pattern: str) -> Any:
    # Documented only: the handler checks the value itself, with a 400 that lists the names.
    return pydantic.WithJsonSchema({"type": "string", "pattern": pattern})


def names_pattern(names: Sequence[str], prefix: str = "") -> str:
    """A regular expression for a comma-separated list of ``names`` (spaces allowed).

    It is what ``parse_fields`` and ``OrderPlan`` accept, so a value the document allows is
    one the list accepts; one it does not allow is answered 400 naming the allowed names.
    """
    if not names:
        return ""  # nothing to name: only the empty value
    one = f" *{prefix}(?:{'|'.join(re.escape(name) for name in names)}) *"
    return f"{one}(?:,{one})*"


def render(adapter: pydantic.TypeAdapter[Any], value: Any, include: Any) -> Any:
    """``value`` as the answer: itself, or when ``include`` is given only those fields."""
    if include is None:
        return value
    return Response(adapter.dump_json(value, include=include), media_type="application/json")
