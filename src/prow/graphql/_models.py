"""One exposed model's part of the schema, planned once from its ``Resource``.

``ModelAPI`` reads everything from the resource the model is exposed with (given, or
``Resource(Model)`` when only the model is): the object type from ``read_schema``, the inputs
from ``create_schema`` and ``update_schema``, the list's filters, ordering, search and page
sizes from its ``ListPlan``, the permissions and hooks from the resource itself. Nothing is
declared twice: a change to the resource is a change to both APIs.

The resolvers it makes follow the REST handlers step by step (``prow.db._resource``): the same
``get_query`` scoping, the same permission checks and hooks, the same validation, answered
as GraphQL errors in the shape ``prow.graphql._errors`` documents.
"""

from __future__ import annotations

import base64
import binascii
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import pydantic
import sqlalchemy as sa
import strawberry
from graphql import GraphQLError
from sqlalchemy import exc as sa_exc
from strawberry.relay import PageInfo

from prow._exceptions import HTTPError
from prow.db._errors import integrity_error_answer
from prow.db._listing import MAX_OFFSET, ListPlan
from prow.db._model import table_name_for
from prow.db._schemas import column_python_type
from prow.graphql._errors import graphql_error, input_error
from prow.graphql._guards import Guards
from prow.graphql._loaders import RelationLoad
from prow.graphql._types import given, graphql_type, input_class, make_type

if TYPE_CHECKING:
    from prow.db import Resource
    from prow.graphql._context import GraphQLContext

__all__ = ["ModelAPI", "camel", "plural"]


def camel(name: str) -> str:
    """``blog_post`` -> ``blogPost``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def plural(name: str) -> str:
    """``item`` -> ``items``, ``category`` -> ``categories``, ``box`` -> ``boxes``."""
    if name.endswith("y") and name[-2:-1] not in "aeiou":
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "z", "ch", "sh")):
        return name + "es"
    return name + "s"


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def _resolver(
    name: str, impl: Callable[..., Any], params: list[inspect.Parameter]
) -> Callable[..., Any]:
    """An ``async def`` whose signature (what Strawberry reads) is ``info`` plus ``params``."""

    async def resolver(**values: Any) -> Any:
        return await impl(**values)

    everything = [_param("info", strawberry.Info), *params]
    resolver.__name__ = resolver.__qualname__ = name
    resolver.__signature__ = inspect.Signature(everything)  # type: ignore[attr-defined]
    resolver.__annotations__ = {p.name: p.annotation for p in everything}
    return resolver


def _offset_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode("ascii").rstrip("=")


def _offset_of(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        kind, _, number = text.partition(":")
        offset = int(number)
        if kind != "offset" or not 0 <= offset < MAX_OFFSET:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GraphQLError(
            "invalid cursor: pass the endCursor (or an edge's cursor) of a previous page",
            extensions={"code": "BAD_USER_INPUT", "status": 400},
        ) from None
    return offset + 1


class ModelAPI:
    """The types, queries and mutations of one exposed model (``resource.model``)."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.model = resource.model
        key = table_name_for(self.model.__name__)
        self.name = self.model.__name__
        self.one = camel(key)
        self.many = camel(plural(key))
        # Rows as ORM objects (not the REST list's plain columns): nested fields read them.
        self.listing = ListPlan(
            self.model,
            key=resource._pk,
            read_schema=resource.read_schema,
            loads=[],
            plain_rows=False,
            filter_fields=resource.filter_fields,
            order_fields=resource.order_fields,
            default_order=resource.default_order,
            search_fields=resource.search_fields,
            cursor_field=resource.cursor_field,
            max_limit=resource.max_limit,
            default_limit=resource.default_limit,
        )
        self.object_type: Any = None
        self._planned_guards: Guards | None = None
        self._filters: dict[str, tuple[str, Any]] = {}

    # -- types ------------------------------------------------------------------------

    def declare(self, enums: dict[type[Any], Any]) -> None:
        """Make the (still undecorated) object type's fields; relations come in ``relate``."""
        relationships = self.resource._mapper.relationships
        # A relationship the read schema shows nested (a Resource's load=) becomes a relation
        # field of the object type, loaded in batches, like the others (see relate).
        annotations = {
            name: graphql_type(field.annotation, enums)
            for name, field in self.resource.read_schema.model_fields.items()
            if name not in relationships
        }
        self._annotations = annotations
        self._relations: dict[str, Any] = {}

    def relate(self, apis: dict[type[Any], ModelAPI]) -> None:
        """Add a field for each relationship to another exposed model, loaded in batches."""
        for rel in self.resource._mapper.relationships:
            target = apis.get(rel.mapper.class_)
            if target is None or rel.info.get("sensitive"):
                continue
            plan = RelationLoad(rel)
            kind: Any = target.type_ref()
            kind = list[kind] if plan.many else kind | None
            self._relations[rel.key] = strawberry.field(
                resolver=_relation_resolver(plan), graphql_type=kind
            )

    def type_ref(self) -> Any:
        """The object type, made on first use (relations may point at it before it is done)."""
        if self.object_type is None:
            self.object_type = type(self.name, (), {"__module__": __name__})
        return self.object_type

    def finish(self, enums: dict[type[Any], Any]) -> None:
        """Decorate the object type and make the connection and input types."""
        cls = self.type_ref()
        cls.__annotations__ = self._annotations
        for key, field in self._relations.items():
            setattr(cls, key, field)
        doc = inspect.cleandoc(self.model.__doc__) if self.model.__doc__ else None
        strawberry.type(cls, name=self.name, description=doc)
        edge: Any = make_type(f"{self.name}Edge", {"cursor": str, "node": cls})
        self.edge_type = edge
        self.connection_type = make_type(
            f"{self.name}Connection",
            {"edges": list[edge], "page_info": PageInfo, "total_count": int | None},
            description=f"A page of {self.name} rows.",
        )
        self.filter_type = self._filter_type(enums)
        resource = self.resource
        self.create_input = _schema_input(f"{self.name}CreateInput", resource.create_schema, enums)
        self.update_input = _schema_input(
            f"{self.name}UpdateInput", resource.update_schema, enums, partial=True
        )
        self.pk_type = graphql_type(column_python_type(resource._pk), enums)

    def _filter_type(self, enums: dict[type[Any], Any]) -> Any:
        mapper = self.resource._mapper
        fields: dict[str, tuple[Any, bool, str | None]] = {}
        for index, (key, param) in enumerate(self.listing.filter_values):
            python_type = column_python_type(mapper.column_attrs[param.field].columns[0])
            if param.lookup == "in":
                python_type = list[python_type]  # type: ignore[valid-type]
            elif param.lookup == "isnull":
                python_type = bool
            name = f"f{index}"
            alias = camel(param.field) + param.alias[len(param.field) :]
            fields[name] = (python_type, False, alias)
            adapter = pydantic.TypeAdapter(_constrained(param.annotation, param.constraints))
            self._filters[name] = (key, adapter)
        if not fields:
            return None
        return input_class(f"{self.name}Filter", fields, enums, f"Filters of the {self.many} list.")

    # -- queries ------------------------------------------------------------------------

    def query_fields(self) -> dict[str, Any]:
        """The by-key query and the list query."""
        pk = _param("id", self.pk_type)
        one = strawberry.field(
            resolver=_resolver(self.one, self._retrieve, [pk]),
            graphql_type=self.object_type | None,
            description=f"One {self.name} by its key (null when there is none).",
        )
        params = [
            _param("first", int | None, None),
            _param("after", str | None, None),
            _param("order", str | None, None),
        ]
        if self.listing.searchable:
            params.append(_param("search", str | None, None))
        if self.filter_type is not None:
            params.append(_param("filter", self.filter_type | None, None))
        many = strawberry.field(
            resolver=_resolver(self.many, self._list, params),
            graphql_type=self.connection_type,
            description=f"{self.name} rows, filtered, ordered and paged like the REST list.",
        )
        return {self.one: one, self.many: many}

    async def _retrieve(self, info: strawberry.Info, id: Any) -> Any:
        context: GraphQLContext = info.context
        resource = self.resource
        await self._guard(context, "retrieve")
        try:
            row = await resource._get(context.request, context.session, id)
        except HTTPError as exc:
            if exc.status == 404:
                return None
            raise graphql_error(exc) from None
        await self._allow(context, "retrieve", row)
        return row

    async def _list(self, info: strawberry.Info, **args: Any) -> Any:
        context: GraphQLContext = info.context
        resource = self.resource
        await self._guard(context, "list")
        await self._allow(context, "list", None)
        values = self._values(args)
        scoped = None
        if resource._hooks.get_query:
            scoped = await resource.get_query(context.request, context.session, self.listing.select)
        # Without totalCount in the query, an offset page reads one row more (is there a
        # next page?) instead of counting every row.
        count = self.listing.cursor_name is not None or _asks_for(info, "totalCount")
        limit = values["limit"]
        if not count:
            values["limit"] = limit + 1
        try:
            fetched = await self.listing.fetch(context.session, values, scoped, count=count)
        except HTTPError as exc:
            raise graphql_error(exc) from None
        values["limit"] = limit
        return self._connection(values, fetched)

    def _values(self, args: dict[str, Any]) -> dict[str, Any]:
        """The GraphQL arguments as the values a ``ListPlan`` reads (checked as over REST)."""
        limit = args.get("first")
        max_limit = self.resource.max_limit
        if limit is None:
            limit = self.resource.default_limit
        elif not 1 <= limit <= max_limit:
            raise GraphQLError(
                f"first must be between 1 and {max_limit}",
                extensions={"code": "BAD_USER_INPUT", "status": 400},
            )
        values: dict[str, Any] = {
            "limit": limit,
            "offset": 0,
            "order": args.get("order"),
            "fields": None,
            "search": args.get("search"),
        }
        after = args.get("after")
        if self.listing.cursor_name is not None:
            values["cursor"] = after or ""
        elif after:
            values["offset"] = _offset_of(after)
        for key, _ in self.listing.filter_values:
            values[key] = None
        if args.get("filter") is not None:
            values.update(self._filter_values(args["filter"]))
        return values

    def _filter_values(self, given_filter: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name, value in given(given_filter).items():
            key, adapter = self._filters[name]
            if value is None:
                continue
            try:
                values[key] = adapter.validate_python(value)
            except pydantic.ValidationError as exc:
                graphql_name = type(given_filter).__strawberry_definition__.get_field(name)
                loc = ["filter", graphql_name.graphql_name if graphql_name else name]
                errors += input_error("filter", exc, loc).extensions["errors"]  # type: ignore[index]
        if errors:
            raise GraphQLError(
                f"invalid filter for {self.many}",
                extensions={"code": "BAD_USER_INPUT", "status": 422, "errors": errors},
            )
        return values

    def _connection(self, values: dict[str, Any], fetched: Any) -> Any:
        rows: Sequence[Any] = fetched.rows
        edge, listing = self.edge_type, self.listing
        if listing.cursor_name is not None:
            cursors = [listing.next_cursor(row, fetched.descending) for row in rows]
            has_next = fetched.next_cursor is not None
            has_previous = bool(values["cursor"])
        else:
            start, limit = values["offset"], values["limit"]
            if fetched.total is None:
                has_next, rows = len(rows) > limit, rows[:limit]
            else:
                has_next = start + len(rows) < fetched.total
            cursors = [_offset_token(start + index) for index in range(len(rows))]
            has_previous = start > 0
        edges = [edge(cursor=cursor, node=row) for cursor, row in zip(cursors, rows, strict=True)]
        info = PageInfo(
            has_next_page=has_next,
            has_previous_page=has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )
        return self.connection_type(edges=edges, page_info=info, total_count=fetched.total)

    # -- mutations ----------------------------------------------------------------------

    def mutation_fields(self) -> dict[str, Any]:
        """create, update and delete, as the resource's ``actions`` allow."""
        actions = self.resource.actions
        pk = _param("id", self.pk_type)
        fields: dict[str, Any] = {}
        if "create" in actions:
            fields[f"create_{self.one}"] = strawberry.field(
                resolver=_resolver(
                    f"create{self.name}", self._create, [_param("data", self.create_input)]
                ),
                graphql_type=self.object_type | None,
                description=f"Create a {self.name}; answers the row as it was stored.",
            )
        if "update" in actions:
            fields[f"update_{self.one}"] = strawberry.field(
                resolver=_resolver(
                    f"update{self.name}", self._update, [pk, _param("data", self.update_input)]
                ),
                graphql_type=self.object_type | None,
                description=f"Change some fields of a {self.name}.",
            )
        if "delete" in actions:
            fields[f"delete_{self.one}"] = strawberry.field(
                resolver=_resolver(f"delete{self.name}", self._delete, [pk]),
                graphql_type=self.pk_type | None,
                description=f"Delete a {self.name}; answers its key.",
            )
        return fields

    def _validated(self, operation: str, schema: type[pydantic.BaseModel], data: Any) -> Any:
        try:
            return schema.model_validate(given(data))
        except pydantic.ValidationError as exc:
            error = input_error(operation, exc, ["data"])
            for entry in (error.extensions or {}).get("errors", ()):
                # The field as the client wrote it: categoryId, not category_id.
                entry["loc"] = [
                    camel(part) if isinstance(part, str) else part for part in entry["loc"]
                ]
            raise error from None

    async def _create(self, info: strawberry.Info, data: Any) -> Any:
        context: GraphQLContext = info.context
        resource, session, request = self.resource, context.session, context.request
        await self._guard(context, "create")
        body = self._validated(f"create{self.name}", resource.create_schema, data)
        await self._allow(context, "create", None)
        values = body.model_dump(exclude_unset=True)
        async with _changing(session):
            if resource._hooks.before_create:
                await resource.before_create(request, session, values)
            row = self.model(**values)
            session.add(row)
            await session.flush()
            row = await resource._reread(session, getattr(row, resource._pk_key))
            if resource._hooks.after_create:
                await resource.after_create(request, session, row)
        return row

    async def _update(self, info: strawberry.Info, id: Any, data: Any) -> Any:
        context: GraphQLContext = info.context
        resource, session, request = self.resource, context.session, context.request
        await self._guard(context, "update")
        body = self._validated(f"update{self.name}", resource.update_schema, data)
        row = await self._get(context, id)
        await self._allow(context, "update", row)
        values = body.model_dump(exclude_unset=True)
        async with _changing(session):
            if resource._hooks.before_update:
                await resource.before_update(request, session, row, values)
            for key, value in values.items():
                setattr(row, key, value)
            await session.flush()
            row = await resource._reread(session, id)
            if resource._hooks.after_update:
                await resource.after_update(request, session, row)
        return row

    async def _delete(self, info: strawberry.Info, id: Any) -> Any:
        context: GraphQLContext = info.context
        resource, session, request = self.resource, context.session, context.request
        await self._guard(context, "delete")
        row = await self._get(context, id)
        await self._allow(context, "delete", row)
        async with _changing(session):
            if resource._orm_delete:
                await session.delete(row)
                await session.flush()
            else:
                await session.execute(sa.delete(self.model).where(resource._pk == id))
            if resource._hooks.after_delete:
                await resource.after_delete(request, session, row)
        return id

    # -- shared steps -----------------------------------------------------------------------

    def plan_guards(self, overrides: Any) -> None:
        """Plan the resource's ``Depends`` guards (at set-up: a mistake fails the start-up)."""
        self._planned_guards = Guards(self.resource._guards, self.name, overrides)

    def _guards(self, request: Any) -> Guards:
        if self._planned_guards is None:  # a schema used without its extension's set-up
            self.plan_guards(getattr(request.app, "dependency_overrides", None))
        assert self._planned_guards is not None
        return self._planned_guards

    async def _get(self, context: GraphQLContext, pk: Any) -> Any:
        try:
            return await self.resource._get(context.request, context.session, pk)
        except HTTPError as exc:
            raise graphql_error(exc) from None

    async def _guard(self, context: GraphQLContext, action: str) -> None:
        """The action's ``Depends`` guards: first, as a REST route resolves them."""
        if action in self.resource._guards:
            await self._guards(context.request).check(context.request, action)

    async def _allow(self, context: GraphQLContext, action: str, row: Any) -> None:
        try:
            await self.resource._allow(action, context.request, context.session, row)
        except HTTPError as exc:
            raise graphql_error(exc) from None


def _asks_for(info: strawberry.Info, name: str) -> bool:
    """Whether the field being resolved selects ``name`` (fragments included)."""
    pending = list(info.selected_fields)
    while pending:
        selection = pending.pop()
        if getattr(selection, "name", None) == name:
            return True
        pending.extend(getattr(selection, "selections", ()))
    return False


def _constrained(annotation: Any, constraints: dict[str, Any]) -> Any:
    """``annotation`` with the ``Field`` constraints a filter value must meet."""
    return Annotated[annotation, pydantic.Field(**constraints)] if constraints else annotation


def _schema_input(
    name: str, schema: type[pydantic.BaseModel], enums: dict[type[Any], Any], partial: bool = False
) -> Any:
    fields: dict[str, tuple[Any, bool, str | None]] = {
        key: (field.annotation, (not partial) and field.is_required(), None)
        for key, field in schema.model_fields.items()
    }
    if not fields:
        fields = {"_": (bool, False, None)}
    return input_class(name, fields, enums, f"What {schema.__name__} accepts.")


def _relation_resolver(plan: RelationLoad) -> Callable[..., Any]:
    async def resolve(root: Any, info: strawberry.Info) -> Any:
        loaders = info.context.loaders
        return await loaders.for_relation(plan).load(root)

    return resolve


class _changing:
    """A savepoint around one mutation: a failure undoes it alone, answered as an error.

    Without it, a refused flush would leave the request's transaction unusable, and the
    commit after the response (``DBSession``) would turn every answer into an error.
    """

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> None:
        self._savepoint = await self._session.begin_nested()

    async def __aexit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            await self._savepoint.commit()
            return False
        await self._savepoint.rollback()
        if isinstance(exc, sa_exc.IntegrityError):
            raise graphql_error(integrity_error_answer(exc)) from None
        if isinstance(exc, HTTPError):
            raise graphql_error(exc) from None
        return False
