"""``Resource(Model)``: a router with list / retrieve / create / replace / update / delete.

::

    products = Resource(Product, filter_fields=["price", "name"], order_fields=["price"])
    app.include(products)        # GET/POST /product, GET/PUT/PATCH/DELETE /product/{pk}

    class ProductResource(Resource):     # the same, as a class with hooks
        model = Product
        filter_fields = ["price", "name"]
        order_fields = ["price"]

        async def before_create(self, request, session, data): ...

The options are one set (``ResourceOptions``): keywords of the constructor or class
attributes of a subclass, the keyword winning, resolved in ``Resource._resolve_options``.
The hooks (``prow.db._hooks``) are awaited only when the class overrides them.

Each endpoint is an ordinary prow handler whose signature is generated from the model
when the resource is built: the list filters, ``order``, ``limit``, ``offset``,
``fields`` and ``cursor`` are typed query parameters, the body is the model's create or
update schema. The parameter planner therefore validates them and the OpenAPI generator
documents them like any hand-written handler. Database errors (409, 503) are answered
by the handlers ``prow.db`` installs on the app.

This module holds the resource itself: its options, checked at start-up, its routes and
the retrieve / create / replace / update / delete steps. The list action (filters,
search, ordering, pagination) is a ``ListPlan`` from ``prow.db._listing``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, TypedDict, Unpack, cast

import pydantic
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload, undefer

from prow._exceptions import ConfigurationError, HTTPError
from prow._params._markers import Body, Depends, Path
from prow._request import Request
from prow._routing._router import Router
from prow.db._filters import parse_fields
from prow.db._hooks import HookSet, ResourceHooks
from prow.db._listing import ListPlan, fields_param, keyword_param, render
from prow.db._model import model_key
from prow.db._schemas import (
    chosen_fields_schema,
    column_python_type,
    has_generated_default,
    mapper_of,
    schema_for,
    value_constraints,
)
from prow.db._session import DBSession

__all__ = ["ACTIONS", "Action", "Permission", "Resource", "ResourceOptions"]

Action = Literal["list", "retrieve", "create", "replace", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "retrieve", "create", "replace", "update", "delete")
#: ``check(request, action, obj_or_None)`` → falsy ``False`` (or raising HTTPError) refuses.
Permission = Callable[[Request, str, Any], Any] | Depends


class ResourceOptions(TypedDict, total=False):
    """The options of a ``Resource``: constructor keywords, or class attributes of a subclass.

    ``None`` (or leaving one out) means "derive it from the model": the prefix is
    ``/<table>``, the tags ``[Model name]``, the schemas ``schema_for(Model, mode=...)``.
    """

    prefix: str | None
    filter_fields: Sequence[str]
    order_fields: Sequence[str]
    default_order: str | Sequence[str] | None
    search_fields: Sequence[str]
    max_limit: int
    default_limit: int
    cursor_field: str | None
    load: Sequence[str]
    read_only_fields: Sequence[str]
    read_schema: type[pydantic.BaseModel] | None
    create_schema: type[pydantic.BaseModel] | None
    update_schema: type[pydantic.BaseModel] | None
    permissions: Mapping[str, Permission] | None
    tags: list[str] | None
    actions: Iterable[Action]
    #: Cache list and detail answers (seconds or a ``prow.cache.CachePolicy``); writes
    #: through this resource drop them (tags ``<table>`` and ``<table>:<pk>``).
    cache: Any


OPTIONS: tuple[str, ...] = tuple(ResourceOptions.__annotations__)
#: Options whose ``None`` is a value in force (no default order, no cursor, no checks)
#: rather than "derive it from the model".
_NULLABLE = frozenset(("default_order", "cursor_field", "permissions"))


def _problem(description: str) -> dict[str, Any]:
    # No content: the OpenAPI generator gives every error answer the app's error shape
    # (the shared Problem schema unless the app declares its own with error_responses).
    return {"description": description}


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


class Resource(Router, ResourceHooks):
    """CRUD endpoints for ``model`` with filtering, ordering, pagination and permissions.

    Include it like any router: ``app.include(Resource(Product))``. Filtering,
    ordering and search are allowed on the declared fields only; everything else in
    the query string is a 400 that lists what is allowed. Subclass it to set the
    options as class attributes and to override the hooks of ``ResourceHooks``.
    """

    # The options (``ResourceOptions``), as class attributes a subclass may set. After
    # set-up each holds the value in force; those without a value here are derived.
    model: type[Any]
    prefix: str
    filter_fields: Sequence[str] = ()
    order_fields: Sequence[str] = ()
    default_order: str | Sequence[str] | None = None
    search_fields: Sequence[str] = ()
    max_limit: int = 100
    default_limit: int = 20
    cursor_field: str | None = None
    load: Sequence[str] = ()
    read_only_fields: Sequence[str] = ()
    read_schema: type[pydantic.BaseModel]
    create_schema: type[pydantic.BaseModel]
    update_schema: type[pydantic.BaseModel]
    permissions: Mapping[str, Permission] | None = None
    tags: list[str]
    actions: Sequence[Action] = ACTIONS
    cache: Any = None

    def __init__(self, model: type[Any] | None = None, **options: Unpack[ResourceOptions]) -> None:
        self.model = self._resolve_model(model)
        given = self._resolve_options(options)
        self._hooks = HookSet.of(type(self))
        self._mapper = mapper_of(self.model)
        self._pk = _single_primary_key(self.model, self._mapper)
        self._pk_key = self._mapper.get_property_by_column(self._pk).key
        self.actions = tuple(given["actions"])
        _check_names(self.model, "actions", self.actions, ACTIONS)
        self.tags = given["tags"] or [self.model.__name__]
        prefix = given["prefix"]
        super().__init__(
            prefix if prefix is not None else f"/{model_key(self.model)}", tags=self.tags
        )
        # A SQL DELETE lets the database enforce its foreign keys (409 "referenced"); the
        # ORM's session.delete() would first set the children's keys to NULL. Relationships
        # that ask the ORM to delete children or link rows still need session.delete().
        self._orm_delete = any(
            rel.cascade.delete or rel.secondary is not None for rel in self._mapper.relationships
        )
        self._loads = self._setup_loads(self.load)
        self._setup_schemas(given)
        self._listing = self._setup_listing(plain_rows=given["read_schema"] is None)
        # One row by its key, built once: SQLAlchemy then skips building the statement, its
        # loader options and their cache key on every request (run with {"_pk": pk}).
        self._by_pk = (
            sa.select(self.model).where(self._pk == sa.bindparam("_pk")).options(*self._loads)
        )
        self._reread_by_pk = self._by_pk.execution_options(populate_existing=True)
        self.page_schema = self._listing.page_schema
        self._checks = self._setup_permissions(self.permissions or {})
        self._register()

    # -- configuration, checked once at start-up ------------------------------------

    def _resolve_model(self, model: type[Any] | None) -> type[Any]:
        found = model if model is not None else getattr(self, "model", None)
        if found is None:
            name = type(self).__name__
            raise ConfigurationError(
                "prow.E515",
                f"{name} has no model: pass it, {name}(Item), or set it on the class "
                "(model = Item)",
            )
        return found

    def _resolve_options(self, given: ResourceOptions) -> ResourceOptions:
        """Every option: the constructor's keyword, else the class attribute, else ``None``.

        The plain ones are kept on the instance as they are; the derived ones (prefix,
        tags, schemas) are worked out from the model by the set-up that follows.
        """
        _check_names(self.model, "keyword arguments", given, OPTIONS)
        resolved = {name: getattr(self, name, None) for name in OPTIONS}
        resolved.update(given)
        for name, value in resolved.items():
            if value is not None or name in _NULLABLE:
                setattr(self, name, value)
        return cast(ResourceOptions, resolved)

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
        # A single related row (many-to-one, one-to-one) joins the row's own SELECT; a
        # collection comes in one more SELECT per relationship (a join would repeat the row).
        return [
            (selectinload if relationships[name].uselist else joinedload)(getattr(self.model, name))
            for name in load
        ]

    def _setup_listing(self, *, plain_rows: bool) -> ListPlan:
        # A read schema of yours that shows a deferred column has it loaded with the row:
        # reading it later would be a lazy load, which an async session refuses.
        columns = self._mapper.column_attrs
        self._loads += [
            undefer(getattr(self.model, name))
            for name in self.read_schema.model_fields
            if name in columns and columns[name].deferred
        ]
        return ListPlan(
            self.model,
            key=getattr(self.model, self._pk_key),
            read_schema=self.read_schema,
            loads=self._loads,
            plain_rows=plain_rows,  # prow's own read schema: its validators expect no object
            filter_fields=self.filter_fields,
            order_fields=self.order_fields,
            default_order=self.default_order,
            search_fields=self.search_fields,
            cursor_field=self.cursor_field,
            max_limit=self.max_limit,
            default_limit=self.default_limit,
        )

    def _setup_schemas(self, given: ResourceOptions) -> None:
        read = given["read_schema"]
        if read is None and self.load:
            # Loaded relationships are shown nested; others stay out (reading them would
            # be a lazy load, which an async session cannot do behind the scenes).
            # exclude=, not include=: naming every column would expose the sensitive ones.
            others = [rel.key for rel in self._mapper.relationships if rel.key not in self.load]
            name = f"{self.model.__name__}ReadWith" + "".join(n.title() for n in self.load)
            read = schema_for(
                self.model, mode="read", relationships="nested", exclude=others, name=name
            )
        self.read_schema = read or schema_for(self.model, mode="read")
        _check_columns(self.model, self._mapper, "read_only_fields", self.read_only_fields)
        self.create_schema = self._write_schema("create", given["create_schema"])
        self.update_schema = self._write_schema("update", given["update_schema"])
        self._read_fields = list(self.read_schema.model_fields)
        self._read_adapter = pydantic.TypeAdapter(self.read_schema)
        # PUT sets each create field the body leaves out back to its default, except the
        # key and the values an INSERT generates (server defaults, callables): those stay.
        self._put_defaults = tuple(
            (key, field)
            for key, field in self.create_schema.model_fields.items()
            if key != self._pk_key and not field.is_required() and not self._generated(key)
        )

    def _write_schema(
        self, mode: Literal["create", "update"], schema: type[pydantic.BaseModel] | None
    ) -> type[pydantic.BaseModel]:
        """The create or update schema: yours, or derived without the read-only fields."""
        read_only = self.read_only_fields
        if schema is None:
            exclude = read_only or None  # the same arguments give the same (cached) class
            return schema_for(self.model, mode=mode, exclude=exclude)
        accepted = sorted(set(read_only) & set(schema.model_fields))
        if accepted:
            # Your schema would let a client write what a hook is meant to set.
            raise ConfigurationError(
                "prow.E517",
                f"read_only_fields names {accepted}, which your {mode}_schema "
                f"{schema.__name__} accepts; drop them from one or the other",
            )
        return schema

    def _generated(self, key: str) -> bool:
        """Whether the column ``key`` gets a value generated when a row is inserted."""
        prop = self._mapper.column_attrs.get(key)
        if prop is None:
            return False
        column = prop.columns[0]
        return isinstance(column, sa.Column) and has_generated_default(column)

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
        table = model_key(self.model)
        for action in self.actions:
            path, method, status, summary, errors = _ROUTES[action]
            if action in self._checks or action in self._guards or self._hooks.has_permission:
                errors = (*errors, 403)
            options: dict[str, Any] = {
                "name": f"{table}_{action}",
                "status_code": status,
                "summary": summary.format(name=self.model.__name__),
                "response_model": self._response_model(action),
                "responses": {code: _problem(_ERRORS[code]) for code in sorted(errors)},
            }
            if action in ("list", "retrieve"):
                # ?fields= narrows the answer: the document shows it may lack fields.
                options["responses"][status] = {"model": self._narrowed_schema(action)}
            if action in self._guards:
                options["dependencies"] = list(self._guards[action])
            if self.cache is not None:
                options["cache"] = self._cache_option(action, table)
            impl = getattr(self, f"_{action}")
            params = [keyword_param("request", Request), keyword_param("session", DBSession)]
            endpoint = _endpoint(f"{table}_{action}", impl, params + self._params(action))
            self.add_route(path, endpoint, [method], **options)

    def _cache_option(self, action: str, table: str) -> Any:
        """Reads are cached under the table's tags; every write drops them."""
        from dataclasses import replace

        from prow.cache import Invalidates
        from prow.cache._policy import CachePolicy, policy_of

        one = f"{table}:{{pk}}"
        if action == "create":
            return Invalidates(table)
        if action not in ("list", "retrieve"):
            return Invalidates(table, one)
        policy = policy_of(self.cache, f"{type(self).__name__}(cache=...)")
        assert isinstance(policy, CachePolicy)
        # The handlers take the request (so prow sees them as personal): an answer that
        # depends on who asks (permissions, get_query) is kept per user, else shared.
        personal = bool(
            self._checks or self._guards or self._hooks.has_permission or self._hooks.get_query
        )
        tags = (*policy.tags, table) if action == "list" else (*policy.tags, table, one)
        per_user = policy.per_user or (personal and not policy.shared)
        return replace(policy, tags=tags, per_user=per_user, shared=not per_user)

    def _narrowed_schema(self, action: str) -> Any:
        """For OpenAPI: the answer of ``action``, whole or narrowed with ``?fields=``."""
        row: Any = self.read_schema | chosen_fields_schema(self.read_schema)
        if action == "retrieve":
            return row
        page = self.page_schema
        fields: dict[str, Any] = {
            name: (list[row] if name == "items" else field.annotation, field)
            for name, field in page.model_fields.items()
        }
        return pydantic.create_model(page.__name__, __module__=page.__module__, **fields)

    def _response_model(self, action: str) -> Any:
        if action == "list":
            return self.page_schema
        return None if action == "delete" else self.read_schema

    def _params(self, action: str) -> list[inspect.Parameter]:
        """The typed parameters of ``action``'s handler, besides the request and session."""
        if action == "list":
            return self._listing.params()
        pk_type = column_python_type(self._pk)
        pk = keyword_param("pk", Annotated[pk_type, Path(**value_constraints(self._pk))])
        if action == "retrieve":
            return [pk, fields_param(self._read_fields)]
        if action in ("create", "replace"):
            body = keyword_param("body", Annotated[self.create_schema, Body()])
            return [body] if action == "create" else [pk, body]
        if action == "update":
            return [pk, keyword_param("body", Annotated[self.update_schema, Body()])]
        return [pk]

    # -- handlers -----------------------------------------------------------------------

    async def _list(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        self._listing.check_query(request.query_params)
        await self._allow("list", request, session, None)
        if not self._hooks.get_query:
            return await self._listing.page(session, values)
        scoped = await self.get_query(request, session, self._listing.select)
        return await self._listing.page(session, values, scoped)

    async def _retrieve(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        chosen = parse_fields(values["fields"], self._read_fields)
        row = await self._get(request, session, values["pk"])
        await self._allow("retrieve", request, session, row)
        return render(self._read_adapter, self.read_schema.model_validate(row), chosen)

    async def _create(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        await self._allow("create", request, session, None)
        data = values["body"].model_dump(exclude_unset=True)
        if self._hooks.before_create:
            await self.before_create(request, session, data)
        row = self.model(**data)
        session.add(row)
        await session.flush()
        row = await self._reread(session, getattr(row, self._pk_key))
        if self._hooks.after_create:
            await self.after_create(request, session, row)
        return self.read_schema.model_validate(row)

    async def _replace(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        row = await self._get(request, session, values["pk"])
        await self._allow("replace", request, session, row)
        data = self._replacement(values["body"])
        return await self._change(request, session, row, data)

    async def _update(self, request: Request, session: AsyncSession, **values: Any) -> Any:
        row = await self._get(request, session, values["pk"])
        await self._allow("update", request, session, row)
        data = values["body"].model_dump(exclude_unset=True)
        return await self._change(request, session, row, data)

    async def _delete(self, request: Request, session: AsyncSession, **values: Any) -> None:
        row = await self._get(request, session, values["pk"])
        await self._allow("delete", request, session, row)
        if self._orm_delete:
            await session.delete(row)
            await session.flush()
        else:
            await session.execute(sa.delete(self.model).where(self._pk == values["pk"]))
        if self._hooks.after_delete:
            await self.after_delete(request, session, row)

    # -- shared steps ---------------------------------------------------------------------

    async def _get(self, request: Request, session: AsyncSession, pk: Any) -> Any:
        """The row ``pk`` as this request may see it (``get_query``), or a 404."""
        statement = self._by_pk
        if self._hooks.get_query:
            statement = await self.get_query(request, session, statement)
        row = (await session.scalars(statement, {"_pk": pk})).one_or_none()
        if row is None:
            raise HTTPError(404, f"{self.model.__name__} {pk!r} does not exist.")
        return row

    async def _change(
        self, request: Request, session: AsyncSession, row: Any, data: dict[str, Any]
    ) -> Any:
        """Replace's and update's common end: hooks around setting ``data`` on ``row``."""
        if self._hooks.before_update:
            await self.before_update(request, session, row, data)
        pk = getattr(row, self._pk_key)
        for key, value in data.items():
            setattr(row, key, value)
        await session.flush()
        row = await self._reread(session, pk)
        if self._hooks.after_update:
            await self.after_update(request, session, row)
        return self.read_schema.model_validate(row)

    async def _reread(self, session: AsyncSession, pk: Any) -> Any:
        # Read the row back: server defaults, onupdate values and loaded relationships
        # are only known to the database. Not through get_query: the client may just have
        # moved the row out of its own view, and should still see what it wrote.
        return (await session.scalars(self._reread_by_pk, {"_pk": pk})).one()

    def _replacement(self, body: pydantic.BaseModel) -> dict[str, Any]:
        """PUT values: every field, unset ones back to their default, generated ones kept."""
        values = body.model_dump(exclude_unset=True)
        for key, field in self._put_defaults:
            if key not in values:
                values[key] = field.get_default(call_default_factory=True)
        values.pop(self._pk_key, None)
        return values

    async def _allow(self, action: str, request: Request, session: AsyncSession, row: Any) -> None:
        for check in self._checks.get(action, ()):
            result = check(request, action, row)
            if inspect.isawaitable(result):
                result = await result
            if result is False:
                raise HTTPError(403, f"not allowed to {action} {self.model.__name__} rows")
        if self._hooks.has_permission and not await self.has_permission(
            request, session, action, row
        ):
            raise HTTPError(403, f"not allowed to {action} {self.model.__name__} rows")


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


def _single_primary_key(model: type[Any], mapper: Any) -> Any:
    keys = mapper.primary_key
    if len(keys) != 1:
        raise ConfigurationError(
            "prow.E513",
            f"Resource needs a single-column primary key; {model.__name__} has {len(keys)}. "
            "Write its endpoints by hand with DBSession.",
        )
    return keys[0]


def _check_columns(model: type[Any], mapper: Any, option: str, names: Iterable[str]) -> None:
    columns = mapper.column_attrs
    for name in names:
        if name not in columns:
            raise ConfigurationError(
                "prow.E511",
                f"{option} names {name!r}, which is not a column of {model.__name__}; "
                f"its columns are {', '.join(p.key for p in columns)}",
            )


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
