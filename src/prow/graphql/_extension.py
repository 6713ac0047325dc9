"""``GraphQL``: the extension that serves a Strawberry schema generated from exposed models.

Set-up (``setup``) builds the schema once: the exposed models' types and operations
(``prow.graphql._models``) and the project's own Strawberry fields, then adds the HTTP route
(queries and mutations, GraphiQL for browsers) and the websocket route (subscriptions) at
``path``. A request only runs Strawberry's execution with a context holding the request, its
``DBSession`` and its DataLoaders.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry
from cross_web import HTTPException
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from prow._exceptions import ConfigurationError, HTTPError
from prow._params._markers import Depends
from prow._request import HTTPConnection, Request
from prow._websocket import WebSocket
from prow.db import DatabaseUnavailable
from prow.extensions import Extension
from prow.graphql._context import GraphQLContext
from prow.graphql._limits import complexity_rule
from prow.graphql._types import make_type

if TYPE_CHECKING:
    from prow._app import App
    from prow.db import Resource
    from prow.graphql._models import ModelAPI
    from prow.graphql._view import ProwView

__all__ = ["GraphQL"]

F = TypeVar("F", bound=Callable[..., Any])


class GraphQL(Extension):
    """A GraphQL API at ``path``: exposed models plus your own Strawberry fields.

    ``GraphQL(path="/graphql")`` in ``App(extensions=[...])``, or ``GraphQL(app)``. Options:
    ``graphiql`` (the in-browser IDE on ``GET path``, served from prow's own files),
    ``introspection`` (turn it off in production to hide the schema), ``max_depth`` and
    ``max_complexity`` (refused before running, see ``prow.graphql._limits``),
    ``allow_get`` (queries by GET; mutations never run on GET).
    """

    unique = False

    def __init__(
        self,
        app: App | None = None,
        *,
        path: str = "/graphql",
        graphiql: bool = True,
        introspection: bool = True,
        max_depth: int = 10,
        max_complexity: int = 5000,
        allow_get: bool = True,
        connection_init_wait_timeout: float = 60.0,
    ) -> None:
        if not path.startswith("/"):
            raise ConfigurationError("prow.E900", f"GraphQL path {path!r} must start with '/'")
        for name, value in (("max_depth", max_depth), ("max_complexity", max_complexity)):
            if value < 1:
                raise ConfigurationError(
                    "prow.E900", f"GraphQL {name}={value} must be a positive number"
                )
        self.path = path
        self.graphiql = graphiql
        self.introspection = introspection
        self.max_depth = max_depth
        self.max_complexity = max_complexity
        self.allow_get = allow_get
        self.connection_init_wait_timeout = connection_init_wait_timeout
        self._resources: list[Resource] = []
        self._fields: dict[str, dict[str, Any]] = {"query": {}, "mutation": {}, "subscription": {}}
        self._schema: strawberry.Schema | None = None
        self._apis: dict[type[Any], ModelAPI] = {}
        if app is not None:
            app.install(self)

    # -- declaring ------------------------------------------------------------------------

    def expose(self, *targets: Any) -> None:
        """Serve these models (or ``Resource``s, with their filters, permissions and hooks)."""
        from prow.db import Resource

        self._refuse_late("expose")
        for target in targets:
            resource = target if isinstance(target, Resource) else Resource(target)
            if any(known.model is resource.model for known in self._resources):
                raise ConfigurationError(
                    "prow.E901",
                    f"{resource.model.__name__} is exposed twice on GraphQL {self.path}; "
                    "expose it once (its Resource, if it has one)",
                )
            self._resources.append(resource)

    def query(self, resolver: F | None = None, /, *, name: str | None = None) -> Any:
        """Add a query field: ``@gql.query async def stats(db: DBSession) -> Stats``."""
        return self._add("query", resolver, name)

    def mutation(self, resolver: F | None = None, /, *, name: str | None = None) -> Any:
        """Add a mutation field (run in order, in the request's transaction)."""
        return self._add("mutation", resolver, name)

    def subscription(self, resolver: F | None = None, /, *, name: str | None = None) -> Any:
        """Add a subscription: an async generator, served over websockets."""
        return self._add("subscription", resolver, name)

    def _add(self, kind: str, resolver: Any, name: str | None) -> Any:
        def register(function: F) -> F:
            self._refuse_late(kind)
            key = name or function.__name__
            if key in self._fields[kind]:
                raise ConfigurationError(
                    "prow.E903", f"GraphQL {kind} {key!r} is defined twice; rename one"
                )
            self._fields[kind][key] = function
            return function

        return register if resolver is None else register(resolver)

    def _refuse_late(self, what: str) -> None:
        if self._schema is not None:
            raise ConfigurationError(
                "prow.E904",
                f"GraphQL {what} after its schema was built (the app started); "
                "declare everything before the app is built",
            )

    # -- the schema -----------------------------------------------------------------------

    @property
    def schema(self) -> strawberry.Schema:
        """The Strawberry schema, built on first use (``setup`` builds it at start-up)."""
        if self._schema is None:
            self._schema = self._build()
        return self._schema

    def sdl(self) -> str:
        """The schema in GraphQL's schema definition language."""
        return str(self.schema.as_str())

    def _build(self) -> strawberry.Schema:
        from prow.graphql._models import ModelAPI

        enums: dict[type[Any], Any] = {}
        apis = {resource.model: ModelAPI(resource) for resource in self._resources}
        for api in apis.values():
            api.declare(enums)
        for api in apis.values():
            api.relate(apis)
        for api in apis.values():
            api.finish(enums)
        self._apis = apis
        roots: dict[str, Any] = {}
        for kind in ("query", "mutation", "subscription"):
            fields: dict[str, Any] = {}
            for api in apis.values():
                if kind == "query":
                    fields.update(api.query_fields())
                elif kind == "mutation":
                    fields.update(api.mutation_fields())
            for key, function in self._fields[kind].items():
                if key in fields:
                    raise ConfigurationError(
                        "prow.E903",
                        f"GraphQL {kind} {key!r} is already generated for an exposed model; "
                        "rename yours (name=...)",
                    )
                fields[key] = _custom_field(kind, function)
            if fields:
                roots[kind] = make_type(kind.title(), {}, fields)
        if "query" not in roots:
            raise ConfigurationError(
                "prow.E905",
                f"GraphQL {self.path} has no query: expose a model (gql.expose(Item)) "
                "or add one with @gql.query",
            )
        return _Schema(
            query=roots["query"],
            mutation=roots.get("mutation"),
            subscription=roots.get("subscription"),
            extensions=self._extensions(),
        )

    def _extensions(self) -> list[Any]:
        rules: list[Any] = [complexity_rule(self.max_complexity, _list_size(self._resources))]
        # The depth rule made once: a rule class made per request would never hit the cache.
        rules += QueryDepthLimiter(max_depth=self.max_depth).validation_rules
        if not self.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        # Strawberry makes its extensions per request from these factories; parsing and
        # validating the same document again would cost more than running most queries, so
        # both are cached by the document's text (the caches are Strawberry's, shared).
        return [
            lambda: ParserCache(maxsize=256),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=256),
            lambda: MaskErrors(should_mask_error=_unexpected),
        ]

    # -- serving --------------------------------------------------------------------------

    def setup(self, app: App) -> None:
        from prow.db import DBSession
        from prow.graphql._vendor import graphiql_html
        from prow.graphql._view import ProwView

        schema = self.schema
        for api in self._apis.values():
            api.plan_guards(app.dependency_overrides)
        view = ProwView(
            schema,
            ide_html=graphiql_html(self.path) if self.graphiql else None,
            allow_queries_via_get=self.allow_get,
            connection_init_wait_timeout=timedelta(seconds=self.connection_init_wait_timeout),
        )
        self._view = view

        async def graphql_endpoint(request: Request, session: DBSession) -> Any:
            try:
                return await view.run(request, context=GraphQLContext(request, session))
            except HTTPException as exc:
                raise HTTPError(exc.status_code, exc.reason) from None

        # Real objects, not the strings ``from __future__`` makes: the planner reads them.
        graphql_endpoint.__annotations__ = {"request": Request, "session": DBSession}
        app.add_route(
            self.path,
            graphql_endpoint,
            ["GET", "POST"],
            name=f"graphql{self.path.replace('/', '_')}",
            include_in_schema=False,
        )
        if "subscription" in self._roots_present():
            self._add_websocket(app, view)
        if self.graphiql:
            from prow.graphql._vendor import mount_assets

            mount_assets(app, self.path)

    def _roots_present(self) -> set[str]:
        return {kind for kind in ("query", "mutation", "subscription") if self.schema_has(kind)}

    def schema_has(self, kind: str) -> bool:
        """Whether the schema has a ``kind`` root (query, mutation, subscription)."""
        graphql_schema = self.schema._schema
        return getattr(graphql_schema, f"{kind}_type") is not None

    def _add_websocket(self, app: App, view: ProwView) -> None:
        from prow.db._database import database

        async def graphql_websocket(websocket: WebSocket) -> None:
            async with database(app).session() as session:
                await view.run(websocket, context=GraphQLContext(websocket, session))

        app.websocket(self.path)(graphql_websocket)


def _list_size(resources: Sequence[Resource]) -> int:
    """The rows a connection without ``first`` counts for: the largest default page."""
    return max((resource.default_limit for resource in resources), default=20)


def _unexpected(error: GraphQLError) -> bool:
    """Whether to hide ``error``'s message: a failure no one meant to show (a bug, a driver).

    The database being unreachable is not hidden here: the view answers it as REST does
    (503 with Retry-After, see ``ProwView._handle_errors``).
    """
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, HTTPError, *_OUTAGES))


#: Failures that mean "the database cannot serve now": answered 503 by prow.db's handlers.
_OUTAGES = (DatabaseUnavailable, sa_exc.TimeoutError, sa_exc.DisconnectionError)


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Errors prow raised on purpose (a refused permission, invalid input) are answers,
        # not incidents: only the unexpected ones are logged, with their traceback.
        unexpected = [error for error in errors if _unexpected(error)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


# -- the project's own fields, with prow's injections -------------------------------------


def _custom_field(kind: str, function: Callable[..., Any]) -> Any:
    """A Strawberry field for ``function``, whose ``Request`` and ``DBSession`` parameters
    are filled from the context and hidden from the GraphQL arguments."""
    resolver = _injecting(function)
    if kind == "subscription":
        return strawberry.subscription(resolver=resolver)
    if kind == "mutation":
        return strawberry.mutation(resolver=resolver)
    return strawberry.field(resolver=resolver)


def _injecting(function: Callable[..., Any]) -> Callable[..., Any]:
    hints = typing.get_type_hints(function, include_extras=True)
    injected: dict[str, str] = {}
    kept: list[inspect.Parameter] = []
    for parameter in inspect.signature(function).parameters.values():
        what = _injection(hints.get(parameter.name))
        if what is None:
            annotation = hints.get(parameter.name, Any)
            kept.append(parameter.replace(annotation=annotation, kind=_KEYWORD))
        else:
            injected[parameter.name] = what
    if not injected:
        return function
    info_name = _info_name(kept, hints)
    own_info = info_name is None
    if info_name is None:
        info_name = "info"
        kept.insert(0, inspect.Parameter("info", _KEYWORD, annotation=strawberry.Info))

    def arguments(values: dict[str, Any]) -> dict[str, Any]:
        info = values.pop(info_name) if own_info else values[info_name]
        context = info.context
        for name, what in injected.items():
            values[name] = getattr(context, what)
        return values

    if inspect.isasyncgenfunction(function):

        async def generator_wrapper(**values: Any) -> Any:
            async for item in function(**arguments(values)):
                yield item

        wrapper: Callable[..., Any] = generator_wrapper
    else:

        async def call_wrapper(**values: Any) -> Any:
            result = function(**arguments(values))
            return await result if inspect.isawaitable(result) else result

        wrapper = call_wrapper
    returns = hints.get("return", Any)
    wrapper.__name__ = function.__name__
    wrapper.__qualname__ = function.__qualname__
    wrapper.__doc__ = function.__doc__
    wrapper.__signature__ = inspect.Signature(kept, return_annotation=returns)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in kept} | {"return": returns}
    return wrapper


_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def _info_name(kept: Iterable[inspect.Parameter], hints: dict[str, Any]) -> str | None:
    """The name of the function's own ``strawberry.Info`` parameter, if it has one."""
    for parameter in kept:
        if hints.get(parameter.name) is strawberry.Info or parameter.name == "info":
            return parameter.name
    return None


def _injection(annotation: Any) -> str | None:
    """Which context attribute a parameter of this annotation receives, if any."""
    if annotation is None:
        return None
    base = annotation
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        for marker in metadata:
            if isinstance(marker, Depends) and base is not AsyncSession:
                raise ConfigurationError(
                    "prow.E906",
                    f"a GraphQL resolver asks for {marker!r}; resolvers receive Request, "
                    "DBSession and strawberry.Info only; reach the rest through them",
                )
    if base is AsyncSession:
        return "session"
    if isinstance(base, type) and issubclass(base, HTTPConnection):
        return "request"
    return None
