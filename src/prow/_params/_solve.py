"""Running a route's plan for one request: extract, validate, resolve dependencies, call.

The path, query, header and cookie parameters of the whole dependency tree are extracted
first. Before the body is read, or a 422 is answered, the dependencies that do not need the
body run (those whose own parameters are valid): authentication and permission checks answer
401/403 before validation can echo a stranger's input back, and before an anonymous client
makes the server parse its upload. Then the body is read and validated, every error of the
request is answered in one 422, and only then do the other dependencies and the handler run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import anyio.to_thread

from prow._exceptions import ConfigurationError, RequestValidationError
from prow._params._body import BodyPlan, build_body_plan
from prow._params._convert import ConversionError
from prow._params._errors import missing
from prow._params._plan import CallPlan, DependencyRef, ParamPlan, compile_call, describe
from prow._request import HTTPConnection, Request
from prow._security import CREDENTIAL_HEADERS
from prow.background import BackgroundTasks

__all__ = ["Context", "RoutePlan", "close_exits", "plan_route"]


class Context:
    """Per-request working state of a plan run."""

    __slots__ = (
        "background",
        "body",
        "cache",
        "connection",
        "early_exits",
        "exits",
        "response",
        "values",
    )

    def __init__(self, connection: HTTPConnection) -> None:
        self.connection = connection
        self.values: dict[ParamPlan, Any] = {}
        self.body: dict[ParamPlan, Any] = _EMPTY
        self.cache: dict[Callable[..., Any], Any] = {}
        self.exits: list[Any] = []
        self.early_exits: list[Any] = []
        self.background: BackgroundTasks | None = None
        self.response: Any = None


_EMPTY: dict[Any, Any] = {}


class RoutePlan:
    """A handler's plan joined with route-level dependencies, flattened for one request."""

    __slots__ = ("body", "early", "first", "gens", "personal", "pre", "root", "simple", "trivial")

    def __init__(self, root: CallPlan, pre: list[DependencyRef], owner: str) -> None:
        self.root = root
        self.pre = pre
        plans = [plan for ref in pre for plan in ref.plan.walk()] + list(root.walk())
        self.simple = [param for plan in plans for param in plan.params]
        self.body: BodyPlan | None = build_body_plan(
            [param for plan in plans for param in plan.body_params], owner
        )
        self.gens = any(plan.kind in ("gen", "asyncgen") for plan in plans)
        refs = [*pre, *(ref for plan in plans for ref in plan.dependencies)]
        self.early = any(ref.scope == "function" for ref in refs)
        self.trivial = not pre and not root.dependencies and not root.specials
        #: The dependencies run before the body is read, each with the parameters it needs.
        self.first = _body_free([*pre, *root.dependencies])
        #: Whether the handler or a dependency can see the request's credentials: if not,
        #: the answer is the same for everyone (no need to look for them: see AppHeaders).
        self.personal = any(_sees_credentials(plan) for plan in plans)

    def all_plans(self) -> list[CallPlan]:
        return [plan for ref in self.pre for plan in ref.plan.walk()] + list(self.root.walk())

    async def run(self, ctx: Context) -> Any:
        """Validate the request against the plan, then call the handler; returns its result."""
        if self.simple or self.body is not None:
            await self._validate(ctx)
        if self.trivial:
            params = self.root.params
            if params:
                values = ctx.values
                kwargs = {param.name: values[param] for param in params}
            else:
                kwargs = {}
            if self.body is not None:
                body = ctx.body
                for param in self.root.body_params:
                    kwargs[param.name] = body[param]
            if self.root.kind == "async":
                return await self.root.call(**kwargs)
        else:
            for ref in self.pre:
                await resolve(ref, ctx)
            kwargs = await build_kwargs(self.root, ctx)
        if not self.early:
            return await invoke(self.root, kwargs, ctx)
        return await _call_then_close_early(self.root, kwargs, ctx)

    async def _validate(self, ctx: Context) -> None:
        errors: list[dict[str, Any]] = []
        if self.simple:
            extract_simple(self.simple, ctx, errors)
        if self.first and (errors or self.body is not None):
            # Credentials and permissions before validation (see the module docstring);
            # without a body and without errors they simply run in their usual turn.
            await self._resolve_first(ctx, errors)
        if self.body is not None:
            assert isinstance(ctx.connection, Request)
            ctx.body = await self.body.extract(ctx.connection, errors)
        if errors:
            raise RequestValidationError(errors)

    async def _resolve_first(self, ctx: Context, errors: list[dict[str, Any]]) -> None:
        """Run the body-free dependencies whose parameters are valid; their results are
        cached, so the handler's turn later reuses them."""
        values = ctx.values
        for ref, needs in self.first:
            if not errors or all(param in values for param in needs):
                await resolve(ref, ctx)


def _body_free(refs: list[DependencyRef]) -> list[tuple[DependencyRef, list[ParamPlan]]]:
    """The dependencies that can run before the body is read, outermost first.

    A dependency qualifies when nothing in its tree reads the body, and when its result is
    cached for the request (``use_cache``), so that running it early does not run it twice.
    Inside one that does not qualify, its own dependencies are looked at the same way.
    Each comes with the simple parameters of its tree: it is skipped when one is invalid.
    """
    found: list[tuple[DependencyRef, list[ParamPlan]]] = []
    seen: set[Callable[..., Any]] = set()

    def visit(refs: list[DependencyRef]) -> None:
        for ref in refs:
            plans = list(ref.plan.walk())
            if ref.use_cache and not any(plan.body_params for plan in plans):
                if ref.call not in seen:
                    seen.add(ref.call)
                    found.append((ref, [param for plan in plans for param in plan.params]))
            else:
                visit(ref.plan.dependencies)

    visit(refs)
    return found


def extract_simple(params: list[ParamPlan], ctx: Context, errors: list[dict[str, Any]]) -> None:
    conn = ctx.connection
    values = ctx.values
    for param in params:
        raw = _raw(param, conn)
        if raw is None:
            if param.required:
                errors.append(missing([param.source, param.alias]))
            else:
                values[param] = param.default_value()
            continue
        try:
            values[param] = param.convert(raw) if param.convert is not None else raw
        except ConversionError as exc:
            prefix = [param.source, param.alias]
            errors.extend({**e, "loc": prefix + e["loc"]} for e in exc.entries)


def _raw(param: ParamPlan, conn: HTTPConnection) -> Any:
    source = param.source
    if source == "query":
        query = conn.query_params
        if param.sequence:
            return query.getlist(param.alias) or None
        return query.get(param.alias)
    if source == "path":
        return conn.scope["path_params"].get(param.alias)
    if source == "header":
        if param.sequence:
            return conn.headers.getlist(param.alias) or None
        return conn.headers.get(param.alias)
    return conn.cookies.get(param.alias)


async def build_kwargs(plan: CallPlan, ctx: Context) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for param in plan.params:
        kwargs[param.name] = ctx.values[param]
    body = ctx.body
    for param in plan.body_params:
        kwargs[param.name] = body[param] if param in body else param.default_value()
    for ref in plan.dependencies:
        value = await resolve(ref, ctx)
        if ref.name is not None:
            kwargs[ref.name] = value
    for name, kind in plan.specials:
        kwargs[name] = _special(kind, ctx)
    return kwargs


def _special(kind: str, ctx: Context) -> Any:
    if kind == "background":
        if ctx.background is None:
            ctx.background = BackgroundTasks()
        return ctx.background
    if kind == "response":
        if ctx.response is None:
            from prow.responses import Response

            ctx.response = Response(status_code=0)
        return ctx.response
    return ctx.connection


async def resolve(ref: DependencyRef, ctx: Context) -> Any:
    if ref.use_cache and ref.call in ctx.cache:
        return ctx.cache[ref.call]
    kwargs = await build_kwargs(ref.plan, ctx)
    exits = ctx.early_exits if ref.scope == "function" else ctx.exits
    value = await invoke(ref.plan, kwargs, ctx, exits)
    if ref.use_cache:
        ctx.cache[ref.call] = value
    return value


async def _call_then_close_early(plan: CallPlan, kwargs: dict[str, Any], ctx: Context) -> Any:
    """Call the handler, then finish ``scope="function"`` dependencies before responding."""
    try:
        result = await invoke(plan, kwargs, ctx)
    except Exception as exc:
        error = await close_exits(ctx.early_exits, exc)
        ctx.early_exits = []
        if error is exc or error is None:
            raise
        raise error from exc
    error = await close_exits(ctx.early_exits, None)
    ctx.early_exits = []
    if error is not None:
        raise error
    return result


async def invoke(
    plan: CallPlan, kwargs: dict[str, Any], ctx: Context, exits: list[Any] | None = None
) -> Any:
    kind = plan.kind
    if kind == "async":
        return await plan.call(**kwargs)
    if kind == "sync":
        return await anyio.to_thread.run_sync(functools.partial(plan.call, **kwargs))
    if kind == "class":
        return plan.call(**kwargs)
    if kind == "asyncgen":
        agen = plan.call(**kwargs)
        value = await agen.__anext__()
        (ctx.exits if exits is None else exits).append(agen)
        return value
    gen = plan.call(**kwargs)
    value = await anyio.to_thread.run_sync(next, gen)
    (ctx.exits if exits is None else exits).append(gen)
    return value


async def close_exits(exits: list[Any], exc: BaseException | None) -> BaseException | None:
    """Finish generator dependencies, newest first, throwing ``exc`` into them if set.

    Returns the exception that should propagate: a teardown may replace it (for
    example turn a database error into an ``HTTPError``), but never silently drop it.
    """
    for gen in reversed(exits):
        try:
            if hasattr(gen, "__anext__"):
                await _close_async(gen, exc)
            else:
                await anyio.to_thread.run_sync(_close_sync, gen, exc)
        except BaseException as raised:
            if raised is not exc:
                exc = raised
    return exc


async def _close_async(agen: Any, exc: BaseException | None) -> None:
    try:
        if exc is None:
            await agen.__anext__()
        else:
            await agen.athrow(exc)
    except StopAsyncIteration:
        return
    await agen.aclose()
    raise RuntimeError("a generator dependency yielded more than once")


def _close_sync(gen: Any, exc: BaseException | None) -> None:
    try:
        if exc is None:
            next(gen)
        else:
            gen.throw(exc)
    except StopIteration:
        return
    gen.close()
    raise RuntimeError("a generator dependency yielded more than once")


_BLIND_SPECIALS = frozenset(("background", "response"))  # they cannot read the request


def _sees_credentials(plan: CallPlan) -> bool:
    """A plan that takes the request (or connection), a cookie or a credential header."""
    if any(kind not in _BLIND_SPECIALS for _, kind in plan.specials):
        return True
    return any(
        param.source == "cookie"
        or (param.source == "header" and param.alias.lower() in CREDENTIAL_HEADERS)
        for param in plan.params
    )


def plan_route(
    handler: Callable[..., Any],
    dependencies: list[Any],
    path_names: frozenset[str],
    special_types: dict[type, str],
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    owner: str,
) -> RoutePlan:
    """Plan a route: its handler, the route/router/app dependencies, with overrides applied."""
    root = compile_call(handler, path_names, special_types)
    pre = []
    for depends in dependencies:
        call = depends.dependency
        plan = compile_call(call, path_names, special_types)
        pre.append(DependencyRef(None, call, depends.use_cache, plan, depends.scope))
    declared = [plan for ref in pre for plan in ref.plan.walk()] + list(root.walk())
    _check_async_only(declared)
    _check_path_names(declared, path_names, owner)
    if overrides:
        root = _override(root, overrides, path_names, special_types)
        pre = [_override_ref(ref, overrides, path_names, special_types) for ref in pre]
    return RoutePlan(root, pre, owner)


#: What a callable needs to read the path's values by hand (``request.path_params``).
_SEES_PATH = frozenset(("request", "websocket", "connection"))


def _check_async_only(plans: list[CallPlan]) -> None:
    """A plain ``def`` may not take what only works awaited (the async database session):
    it would get a coroutine where it expects rows (``'coroutine' object is not iterable``).
    A dependency says so with a ``__prow_async_only__`` attribute: the fix, in words."""
    for plan in plans:
        if plan.kind not in ("sync", "gen"):
            continue
        for ref in plan.dependencies:
            fix = getattr(ref.call, "__prow_async_only__", None)
            if fix is not None:
                raise ConfigurationError(
                    "prow.E032",
                    f"{describe(plan.call)} is a plain 'def' but its parameter {ref.name!r} "
                    f"is only usable from async code: {fix}",
                )


def _check_path_names(plans: list[CallPlan], path_names: frozenset[str], owner: str) -> None:
    """Every ``{placeholder}`` of the path is taken by the handler or a dependency (or read
    from the request by hand): a forgotten one is a typo or a lost filter, said at start-up."""
    if not path_names or any(kind in _SEES_PATH for plan in plans for _, kind in plan.specials):
        return
    taken = {param.alias for plan in plans for param in plan.params if param.source == "path"}
    missing = sorted(path_names - taken)
    if missing:
        names = ", ".join(f"{{{name}}}" for name in missing)
        first = missing[0]
        raise ConfigurationError(
            "prow.E031",
            f"the path of {owner} has {names} but neither the handler nor its dependencies "
            f"take it: add a parameter (e.g. '{first}: int') or remove the segment.",
        )


def _override(
    plan: CallPlan,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    path_names: frozenset[str],
    special_types: dict[type, str],
) -> CallPlan:
    deps = [_override_ref(ref, overrides, path_names, special_types) for ref in plan.dependencies]
    return CallPlan(plan.call, plan.kind, plan.params, plan.body_params, deps, plan.specials)


def _override_ref(
    ref: DependencyRef,
    overrides: Mapping[Callable[..., Any], Callable[..., Any]],
    path_names: frozenset[str],
    special_types: dict[type, str],
) -> DependencyRef:
    replacement = overrides.get(ref.call)
    if replacement is None:
        plan = _override(ref.plan, overrides, path_names, special_types)
        return DependencyRef(ref.name, ref.call, ref.use_cache, plan, ref.scope)
    plan = compile_call(replacement, path_names, special_types)
    plan = _override(plan, overrides, path_names, special_types)
    # The cache stays keyed by the original so every user of it shares one value.
    return DependencyRef(ref.name, ref.call, ref.use_cache, plan, ref.scope)
