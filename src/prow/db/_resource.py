"""``Resource(Model)``: a router with list / retrieve / create / replace / update / delete.

::

    products = Resource(Product, filter_fields=["price", "name"], order_fields=["price"])
    app.include(products)        # GET/POST /product, GET/PUT/PATCH/DELETE /product/{pk}

Each endpoint is an ordinary prow handler whose signature is generated from the model
when the resource is built: the list filters, ``order``, ``limit``, ``offset``,
``fields`` and ``cursor`` are typed query parameters, the body is the model's create or
update schema. The parameter planner therefore validates them and the OpenAPI generator
documents them like any hand-written handler. Database errors (409, 503) are answered
by the handlers ``prow.db`` installs on the app.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import pydantic
import pydantic_core
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from prow._exceptions import ConfigurationError, HTTPError
from prow._params._markers import Body, Depends, Path, Query
from prow._request import Request
from prow._routing._router import Router
from prow.db._filters import FilterParam, OrderPlan, filter_params, parse_fields, unknown_parameter
from prow.db._schemas import (
    column_python_type,
    is_sensitive,
    mapper_of,
    schema_for,
    value_constraints,
)
from prow.db._session import Session
from prow.responses import Response

__all__ = ["ACTIONS", "Action", "Permission", "Resource"]

Action = Literal["list", "retrieve", "create", "replace", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "retrieve", "create", "replace", "update", "delete")
#: ``check(request, action, obj_or_None)`` → falsy ``False`` (or raising HTTPError) refuses.
Permission = Callable[[Request, str, Any], Any] | Depends

_PROBLEM = "application/problem+json"
#: The largest ``offset`` a list accepts: past it a database scans in vain (and the value
#: could overflow the driver's integer type).
MAX_OFFSET = 2**31 - 1


class Problem(pydantic.BaseModel):
    """An RFC 9457 problem document, as prow's error answers carry."""

    type: str
    title: str
    status: int
    detail: str


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "media_type": _PROBLEM}


#: action → (path, method, success status, summary, documented error statuses)
_ROUTES: dict[str, tuple[str, str, int, str, tuple[int, ...]]] = {
    "list": ("/", "GET", 200, "List {name} rows", (400,)),
    "retrieve": ("/{pk}", "GET", 200, "Read one {name}", (400, 404)),
    "create": ("/", "POST", 201, "Create a {name}", (409,)),
    "replace": ("/{pk}", "PUT", 200, "Replace a {name}", (404, 409)),
    "update": ("/{pk}", "PATCH", 200, "Update part of a {name}", (404, 409)),
    "delete": ("/{pk}", "DELETE", 204, "Delete a {name}", (404,)),
}
_ERRORS = {
    400: "Unknown filter, lookup, order or field",
    403: "Not allowed",
    404: "No row has this key",
    409: "The change conflicts with existing data (a unique value, a missing reference)",
}


class Resource(Router):
    """CRUD endpoints for ``model`` with filtering, ordering, pagination and permissions.

    Include it like any router: ``app.include(Resource(Product))``. Filtering,
    ordering and search are allowed on the declared fields only; everything else in
    the query string is a 400 that lists what is allowed.
    """

    def __init__(
        self,
        model: type[Any],
        *,
        prefix: str | None = None,
        filter_fields: Sequence[str] = (),
        order_fields: Sequence[str] = (),
        default_order: str | Sequence[str] | None = None,
        search_fields: Sequence[str] = (),
        max_limit: int = 100,
        default_limit: int = 20,
        cursor_field: str | None = None,
        load: Sequence[str] = (),
        read_schema: type[pydantic.BaseModel] | None = None,
        create_schema: type[pydantic.BaseModel] | None = None,
        update_schema: type[pydantic.BaseModel] | None = None,
        permissions: Mapping[str, Permission] | None = None,
        tags: list[str] | None = None,
        actions: Iterable[Action] = ACTIONS,
    ) -> None:
        self.model = model
        self._mapper = mapper_of(model)
        self._pk = _single_primary_key(model, self._mapper)
        self._pk_key = self._mapper.get_property_by_column(self._pk).key
        self.actions = tuple(actions)
        _check_names(model, "actions", self.actions, ACTIONS)
        if not 1 <= default_limit <= max_limit:
            raise ConfigurationError(
                "prow.E510",
                f"default_limit={default_limit} must be between 1 and max_limit={max_limit}",
            )
        self.max_limit, self.default_limit = max_limit, default_limit
        super().__init__(
            prefix if prefix is not None else f"/{model.__tablename__}",
            tags=tags or [model.__name__],
        )
        self._setup_fields(filter_fields, order_fields, default_order, search_fields, cursor_field)
        self._loads = self._setup_loads(load)
        self._setup_schemas(load, read_schema, create_schema, update_schema)
        self._checks = self._setup_permissions(permissions or {})
        self._query_names = frozenset((*self._reserved(), *(f.alias for f in self._filters)))
        self._register()

    # -- configuration, checked once at start-up ------------------------------------

    def _column(self, option: str, name: str) -> Any:
        prop = self._mapper.column_attrs.get(name)
        if prop is None:
            allowed = ", ".join(p.key for p in self._mapper.column_attrs)
            raise ConfigurationError(
                "prow.E511",
                f"{option} names {name!r}, which is not a column of {self.model.__name__}; "
                f"its columns are {allowed}",
            )
        if is_sensitive(prop):
            # Filtering, searching or ordering on a hash answers questions about it
            # (password__startswith=$argon2id$...) even though it is never shown.
            raise ConfigurationError(
                "prow.E511",
                f"{option} names {name!r}, a sensitive column of {self.model.__name__} "
                "(info={'sensitive': True}); it cannot be filtered, searched or ordered on",
            )
        return getattr(self.model, name)

    def _setup_fields(
        self,
        filter_fields: Sequence[str],
        order_fields: Sequence[str],
        default_order: str | Sequence[str] | None,
        search_fields: Sequence[str],
        cursor_field: str | None,
    ) -> None:
        self._filters: list[FilterParam] = []
        for name in filter_fields:
            column = self._column("filter_fields", name)
            limits = value_constraints(column.property.columns[0])
            python_type = column_python_type(column.property.columns[0])
            self._filters.extend(filter_params(name, column, python_type, limits))
        self._lookups: dict[str, list[str]] = {name: [] for name in filter_fields}
        for param in self._filters:
            if param.lookup not in self._lookups[param.field]:
                self._lookups[param.field].append(param.lookup)
        columns = {name: self._column("order_fields", name) for name in order_fields}
        if isinstance(default_order, str):
            default_order = [default_order]
        default = tuple(default_order or ())
        self._order = OrderPlan(columns, default, getattr(self.model, self._pk_key))
        for name in default:
            self._order.clauses(name)  # an unknown name fails now, not at a request
        self._search = [self._column("search_fields", name) for name in search_fields]
        self._cursor = None if cursor_field is None else self._column("cursor_field", cursor_field)
        self._cursor_name = cursor_field
        self._cursor_adapter: pydantic.TypeAdapter[Any] | None = None
        if self._cursor is not None:
            self._cursor_adapter = pydantic.TypeAdapter(_bounded(self._cursor.property.columns[0]))
        # A SQL DELETE lets the database enforce its foreign keys (409 "referenced"); the
        # ORM's session.delete() would first set the children's keys to NULL. Relationships
        # that ask the ORM to delete children or link rows still need session.delete().
        self._orm_delete = any(
            rel.cascade.delete or rel.secondary is not None for rel in self._mapper.relationships
        )

    def _setup_loads(self, load: Sequence[str]) -> list[Any]:
        relationships = self._mapper.relationships
        for name in load:
            if name not in relationships:
                allowed = ", ".join(relationships.keys()) or "none"
                raise ConfigurationError(
                    "prow.E512",
                    f"load names {name!r}, which is not a relationship of "
                    f"{self.model.__name__}; its relationships are {allowed}",
                )
        return [selectinload(getattr(self.model, name)) for name in load]

    def _setup_schemas(
        self,
        load: Sequence[str],
        read: type[pydantic.BaseModel] | None,
        create: type[pydantic.BaseModel] | None,
        update: type[pydantic.BaseModel] | None,
    ) -> None:
        if read is None and load:
            # Loaded relationships are shown nested; others stay out (reading them would
            # be a lazy load, which an async session cannot do behind the scenes).
            # exclude=, not include=: naming every column would expose the sensitive ones.
            others = [rel.key for rel in self._mapper.relationships if rel.key not in load]
            name = f"{self.model.__name__}ReadWith" + "".join(n.title() for n in load)
            read = schema_for(
                self.model, mode="read", relationships="nested", exclude=others, name=name
            )
        self.read_schema = read or schema_for(self.model, mode="read")
        self.create_schema = create or schema_for(self.model, mode="create")
        self.update_schema = update or schema_for(self.model, mode="update")
        self._read_fields = list(self.read_schema.model_fields)
        self.page_schema = _page_schema(self.model, self.read_schema, self._cursor is not None)
        self._page_adapter = pydantic.TypeAdapter(self.page_schema)
        self._read_adapter = pydantic.TypeAdapter(self.read_schema)

    def _setup_permissions(self, permissions: Mapping[str, Permission]) -> dict[str, Any]:
        _check_names(self.model, "permissions", permissions, (*ACTIONS, "*"))
        self._guards: dict[str, list[Depends]] = {}
        checks: dict[str, Any] = {}
        for action in ACTIONS:
            for key in ("*", action):
                check = permissions.get(key)
                if isinstance(check, Depends):
                    self._guards.setdefault(action, []).append(check)
                elif check is not None:
                    checks.setdefault(action, []).append(check)
        return checks

    # -- routes -------------------------------------------------------------------------

    def _register(self) -> None:
        table = self.model.__tablename__
        for action in self.actions:
            path, method, status, summary, errors = _ROUTES[action]
            if action in self._checks or action in self._guards:
                errors = (*errors, 403)
            options: dict[str, Any] = {
                "name": f"{table}_{action}",
                "status_code": status,
                "summary": summary.format(name=self.model.__name__),
                "response_model": self._response_model(action),
                "responses": {code: _problem(_ERRORS[code]) for code in sorted(errors)},
            }
            if action in self._guards:
                options["dependencies"] = list(self._guards[action])
            impl = getattr(self, f"_{action}")
            params = [_param("request", Request), _param("session", Session)]
            endpoint = _endpoint(f"{table}_{action}", impl, params + self._params(action))
            self.add_route(path, endpoint, [method], **options)

    def _response_model(self, action: str) -> Any:
        if action == "list":
            return self.page_schema
        return None if action == "delete" else self.read_schema

    def _params(self, action: str) -> list[inspect.Parameter]:
        """The typed parameters of ``action``'s handler, besides the request and session."""
        if action == "list":
            return self._list_params()
        pk_type = column_python_type(self._pk)
        pk = _param("pk", Annotated[pk_type, Path(**value_constraints(self._pk))])
        if action == "retrieve":
            return [pk, self._fields_param()]
        if action in ("create", "replace"):
            body = _param("body", Annotated[self.create_schema, Body()])
            return [body] if action == "create" else [pk, body]
        if action == "update":
            return [pk, _param("body", Annotated[self.update_schema, Body()])]
        return [pk]

    def _fields_param(self) -> inspect.Parameter:
        allowed = ", ".join(self._read_fields)
        marker = Query(description=f"Comma-separated fields to return, among: {allowed}.")
        return _param("fields", Annotated[str | None, marker], None)

    def _list_params(self) -> list[inspect.Parameter]:
        order_doc = ", ".join(sorted(self._order.columns)) or "none"
        params = [
            _param("limit", Annotated[int, Query(ge=1, le=self.max_limit)], self.default_limit),
            _param("offset", Annotated[int, Query(ge=0, le=MAX_OFFSET)], 0),
            _param(
                "order",
                Annotated[
                    str | None,
                    Query(description=f"Comma-separated fields, '-' for descending: {order_doc}."),
                ],
                None,
            ),
            self._fields_param(),
        ]
        if self._search:
            doc = "Rows containing this text (ignoring case) in any searched field."
            params.append(_param("search", Annotated[str | None, Query(description=doc)], None))
        if self._cursor is not None:
            doc = (
                f"Keyset pagination on {self._cursor_name}: empty for the first page, then "
                "the next_cursor of the previous page."
            )
            params.append(_param("cursor", Annotated[str | None, Query(description=doc)], None))
        for index, param in enumerate(self._filters):
            marker = Query(alias=param.alias, description=param.description, **param.constraints)
            params.append(_param(f"filter_{index}", Annotated[param.annotation, marker], None))
        return params

    # -- handlers -----------------------------------------------------------------------

    async def _list(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        self._check_query(request)
        await self._allow("list", request, None)
        chosen = parse_fields(values["fields"], self._read_fields)
        conditions = self._conditions(values)
        statement = sa.select(self.model).where(*conditions).options(*self._loads)
        if values.get("cursor") is not None:
            page = await self._cursor_page(session, statement, values)
        else:
            page = await self._offset_page(session, statement, conditions, values)
        return self._render(self._page_adapter, page, chosen, nested="items")

    def _check_query(self, request: Request) -> None:
        """Refuse query keys the list does not know, and single-value filters given twice."""
        query = request.query_params
        for key in query:
            if key not in self._query_names:
                if key == "cursor":
                    raise HTTPError(
                        400, "this resource has no cursor pagination; use limit and offset"
                    )
                raise HTTPError(400, unknown_parameter(key, self._lookups, self._reserved()))
        for param in self._filters:
            if not param.takes_list and len(query.getlist(param.alias)) > 1:
                raise HTTPError(
                    400,
                    f"{param.alias} was given more than once; to match any of several "
                    f"values use {param.field}__in=a,b",
                )

    def _reserved(self) -> list[str]:
        names = ["limit", "offset", "order", "fields"]
        if self._search:
            names.append("search")
        if self._cursor is not None:
            names.append("cursor")
        return names

    def _conditions(self, values: Mapping[str, Any]) -> list[Any]:
        conditions = []
        for index, param in enumerate(self._filters):
            value = values[f"filter_{index}"]
            if value is not None:
                conditions.append(param.condition(value))
        search = values.get("search")
        if search:
            conditions.append(
                sa.or_(*(column.icontains(search, autoescape=True) for column in self._search))
            )
        return conditions

    async def _offset_page(
        self,
        session: AsyncSession,
        statement: sa.Select[Any],
        conditions: list[Any],
        values: Mapping[str, Any],
    ) -> Any:
        limit, offset = values["limit"], values["offset"]
        ordered = statement.order_by(*self._order.clauses(values["order"]))
        rows = (await session.scalars(ordered.limit(limit).offset(offset))).all()
        if offset == 0 and len(rows) < limit:
            total = len(rows)  # the whole result fits in this page: no COUNT needed
        else:
            counted = sa.select(sa.func.count()).select_from(self.model).where(*conditions)
            total = (await session.scalar(counted)) or 0
        items = [self.read_schema.model_validate(row) for row in rows]
        return self.page_schema(items=items, total=total, limit=limit, offset=offset)

    async def _cursor_page(
        self, session: AsyncSession, statement: sa.Select[Any], values: Mapping[str, Any]
    ) -> Any:
        assert self._cursor is not None
        limit, order = values["limit"], values["order"]
        if values["offset"]:
            raise HTTPError(400, "offset cannot be combined with cursor; use one or the other")
        if order not in (None, self._cursor_name, f"-{self._cursor_name}"):
            raise HTTPError(
                400,
                f"with a cursor the order can only be {self._cursor_name} or -{self._cursor_name}",
            )
        descending, after = self._decode_cursor(values["cursor"], order)
        column = self._cursor
        if after is not None:
            statement = statement.where(column < after if descending else column > after)
        statement = statement.order_by(column.desc() if descending else column.asc())
        rows = (await session.scalars(statement.limit(limit + 1))).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = getattr(rows[-1], self._cursor.key)
            next_cursor = _encode_cursor(last, descending)
        items = [self.read_schema.model_validate(row) for row in rows]
        return self.page_schema(
            items=items, total=None, limit=limit, offset=None, next_cursor=next_cursor
        )

    def _decode_cursor(self, token: str, order: str | None) -> tuple[bool, Any]:
        assert self._cursor is not None
        if not token:
            return bool(order and order.startswith("-")), None
        try:
            padded = token + "=" * (-len(token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            assert self._cursor_adapter is not None
            # The value goes into a SQL comparison: it must be one the column can hold,
            # or the driver fails (a huge integer overflows into a 500).
            value = self._cursor_adapter.validate_python(data["v"])
            descending = data["d"]
            if not isinstance(descending, bool):
                raise TypeError("d must be a boolean")
        except (ValueError, KeyError, TypeError, binascii.Error, pydantic.ValidationError):
            raise HTTPError(
                400,
                f"invalid cursor (not a position in {self._cursor_name}); pass the next_cursor "
                "of a previous page, or an empty one",
            ) from None
        if order is not None and order.startswith("-") != descending:
            raise HTTPError(400, "the order changed between pages; start again with cursor=")
        return descending, value

    async def _retrieve(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        chosen = parse_fields(values["fields"], self._read_fields)
        row = await self._get(session, values["pk"])
        await self._allow("retrieve", request, row)
        return self._render(self._read_adapter, self.read_schema.model_validate(row), chosen)

    async def _create(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        await self._allow("create", request, None)
        row = self.model(**values["body"].model_dump(exclude_unset=True))
        session.add(row)
        await session.flush()
        return await self._reread(session, getattr(row, self._pk_key))

    async def _replace(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        row = await self._get(session, values["pk"])
        await self._allow("replace", request, row)
        for key, value in self._replacement(values["body"]).items():
            setattr(row, key, value)
        await session.flush()
        return await self._reread(session, values["pk"])

    async def _update(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        row = await self._get(session, values["pk"])
        await self._allow("update", request, row)
        for key, value in values["body"].model_dump(exclude_unset=True).items():
            setattr(row, key, value)
        await session.flush()
        return await self._reread(session, values["pk"])

    async def _delete(self, request: Request, session: AsyncSession, **values: Any) -> None:
        row = await self._get(session, values["pk"])
        await self._allow("delete", request, row)
        if self._orm_delete:
            await session.delete(row)
            await session.flush()
        else:
            await session.execute(sa.delete(self.model).where(self._pk == values["pk"]))

    # -- shared steps ---------------------------------------------------------------------

    async def _get(self, session: AsyncSession, pk: Any) -> Any:
        statement = sa.select(self.model).where(self._pk == pk).options(*self._loads)
        row = (await session.scalars(statement)).one_or_none()
        if row is None:
            raise HTTPError(404, f"{self.model.__name__} {pk!r} does not exist.")
        return row

    async def _reread(self, session: AsyncSession, pk: Any) -> Any:
        # Read the row back: server defaults, onupdate values and loaded relationships
        # are only known to the database.
        statement = (
            sa.select(self.model)
            .where(self._pk == pk)
            .options(*self._loads)
            .execution_options(populate_existing=True)
        )
        row = (await session.scalars(statement)).one()
        return self.read_schema.model_validate(row)

    def _replacement(self, body: pydantic.BaseModel) -> dict[str, Any]:
        """PUT values: every field, unset ones back to their default, generated ones kept."""
        values = body.model_dump(exclude_unset=True)
        for key, field in type(body).model_fields.items():
            if key in values or key == self._pk_key:
                continue
            prop = self._mapper.column_attrs.get(key)
            column = prop.columns[0] if prop is not None else None
            generated = column is not None and (
                column.server_default is not None
                or (column.default is not None and not getattr(column.default, "is_scalar", False))
            )
            if not generated and not field.is_required():
                values[key] = field.get_default(call_default_factory=True)
        values.pop(self._pk_key, None)
        return values

    async def _allow(self, action: str, request: Request, row: Any) -> None:
        for check in self._checks.get(action, ()):
            result = check(request, action, row)
            if inspect.isawaitable(result):
                result = await result
            if result is False:
                raise HTTPError(403, f"not allowed to {action} {self.model.__name__} rows")

    @staticmethod
    def _render(
        adapter: pydantic.TypeAdapter[Any], value: Any, chosen: set[str] | None, nested: str = ""
    ) -> Any:
        if chosen is None:
            return value
        include: Any = chosen
        if nested:
            include = {key: True for key in type(value).model_fields}
            include[nested] = {"__all__": chosen}
        body = adapter.dump_json(value, include=include)
        return Response(body, media_type="application/json")


def _bounded(column: Any) -> Any:
    """The Python type of ``column``'s values, with the limits the column type sets."""
    python_type = column_python_type(column)
    limits = value_constraints(column)
    return Annotated[python_type, pydantic.Field(**limits)] if limits else python_type


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _endpoint(
    name: str, impl: Callable[..., Any], params: list[inspect.Parameter]
) -> Callable[..., Any]:
    """A handler named ``name`` whose signature is ``params``; it calls ``impl``.

    The planner reads ``__signature__`` and ``__annotations__`` like those of a handler
    written by hand, so validation and OpenAPI need nothing special.
    """

    async def endpoint(**values: Any) -> Any:
        return await impl(**values)

    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = impl.__doc__
    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__annotations__ = {p.name: p.annotation for p in params}
    return endpoint


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


def _encode_cursor(value: Any, descending: bool) -> str:
    data = pydantic_core.to_json({"v": value, "d": descending})
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _single_primary_key(model: type[Any], mapper: Any) -> Any:
    keys = mapper.primary_key
    if len(keys) != 1:
        raise ConfigurationError(
            "prow.E513",
            f"Resource needs a single-column primary key; {model.__name__} has {len(keys)}. "
            "Write its endpoints by hand with Session.",
        )
    return keys[0]


def _check_names(
    model: type[Any], option: str, names: Iterable[str], allowed: Sequence[str]
) -> None:
    unknown = sorted(set(names) - set(allowed))
    if unknown:
        raise ConfigurationError(
            "prow.E514",
            f"Resource({model.__name__}) {option} has unknown name(s) {unknown}; "
            f"allowed: {', '.join(allowed)}",
        )
