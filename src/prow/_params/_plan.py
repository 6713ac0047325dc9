"""Planning: a handler's signature becomes a ``CallPlan`` once, at start-up.

A request never inspects a signature; it runs the plan (see ``_solve``). OpenAPI
reads the same plans, so what is documented is exactly what is enforced.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any

from prow._exceptions import ConfigurationError
from prow._params._convert import Converter, make_converter
from prow._params._markers import REQUIRED, Body, Depends, File, Header, Param, Path, Query
from prow._params._types_util import is_model_like, is_sequence, split_annotated, unwrap_optional

__all__ = ["CallPlan", "DependencyRef", "ParamPlan", "call_kind", "compile_call", "describe"]

SIMPLE_SOURCES = frozenset(("path", "query", "header", "cookie"))


@dataclasses.dataclass(eq=False, slots=True)
class ParamPlan:
    """One parameter: where it is read, under which name, and how it is converted."""

    name: str
    source: str
    alias: str
    annotation: Any
    marker: Param
    sequence: bool
    convert: Converter | None = None
    index: int = -1

    @property
    def required(self) -> bool:
        return self.marker.required

    def default_value(self) -> Any:
        if self.marker.default_factory is not None:
            return self.marker.default_factory()
        default = self.marker.default
        return copy.copy(default) if isinstance(default, list | dict | set) else default


@dataclasses.dataclass(eq=False, slots=True)
class DependencyRef:
    """A ``Depends(...)`` found in a signature (``name`` is None for route-level ones)."""

    name: str | None
    call: Callable[..., Any]
    use_cache: bool
    plan: CallPlan
    scope: str = "request"


@dataclasses.dataclass(eq=False, slots=True)
class CallPlan:
    """Everything needed to call a handler or dependency with request values."""

    call: Callable[..., Any]
    kind: str  # "async", "sync", "asyncgen", "gen" or "class"
    params: list[ParamPlan]
    body_params: list[ParamPlan]
    dependencies: list[DependencyRef]
    specials: list[tuple[str, str]]

    def walk(self) -> Iterable[CallPlan]:
        """This plan and every plan it depends on, depth first, dependencies before users."""
        for dep in self.dependencies:
            yield from dep.plan.walk()
        yield self


def describe(call: Callable[..., Any]) -> str:
    """A readable name for a callable, for error messages."""
    module = getattr(call, "__module__", None) or "?"
    name = getattr(call, "__qualname__", None) or type(call).__qualname__
    return f"{module}.{name}"


def call_kind(call: Callable[..., Any]) -> str:
    if inspect.isclass(call):
        return "class"
    target: Any = call
    if not (inspect.isfunction(call) or inspect.ismethod(call)):
        target = getattr(call, "__call__", call)  # noqa: B004 - callable instances
    target = inspect.unwrap(target)
    if inspect.isasyncgenfunction(target):
        return "asyncgen"
    if inspect.isgeneratorfunction(target):
        return "gen"
    if inspect.iscoroutinefunction(target):
        return "async"
    return "sync"


def _type_hints(call: Callable[..., Any]) -> dict[str, Any]:
    target = call.__init__ if inspect.isclass(call) else call
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        target = getattr(target, "__call__", target)  # noqa: B004
    try:
        return typing.get_type_hints(target, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ConfigurationError(
            "prow.E002",
            f"cannot resolve the type annotations of {describe(call)}: {exc}. Define the "
            "types it names at module level (or import them) so they can be looked up.",
        ) from exc


def compile_call(
    call: Callable[..., Any],
    path_names: frozenset[str],
    special_types: dict[type, str],
    _stack: tuple[Callable[..., Any], ...] = (),
) -> CallPlan:
    """Plan one callable; dependencies are planned recursively (cycles are an error)."""
    if call in _stack:
        chain = " -> ".join(describe(c) for c in (*_stack, call))
        raise ConfigurationError("prow.E003", f"dependency cycle: {chain}")
    hints = _type_hints(call)
    plan = CallPlan(call, call_kind(call), [], [], [], [])
    for parameter in inspect.signature(call).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        annotation = hints.get(parameter.name, Any)
        _plan_parameter(plan, parameter, annotation, path_names, special_types, (*_stack, call))
    return plan


def _plan_parameter(
    plan: CallPlan,
    parameter: inspect.Parameter,
    annotation: Any,
    path_names: frozenset[str],
    special_types: dict[type, str],
    stack: tuple[Callable[..., Any], ...],
) -> None:
    base, metadata = split_annotated(annotation)
    special = _special_kind(base, special_types)
    if special is not None:
        plan.specials.append((parameter.name, special))
        return
    depends = _find(metadata, parameter.default, Depends) or _extension_depends(base)
    if depends is not None:
        target = depends.dependency or base
        sub = compile_call(target, path_names, special_types, stack)
        plan.dependencies.append(
            DependencyRef(parameter.name, target, depends.use_cache, sub, depends.scope)
        )
        return
    param = _plan_value(plan.call, parameter, base, metadata, path_names)
    if param.source in SIMPLE_SOURCES:
        plan.params.append(param)
    else:
        plan.body_params.append(param)


def _special_kind(base: Any, special_types: dict[type, str]) -> str | None:
    if not isinstance(base, type):
        return None
    for cls in base.__mro__:
        kind = special_types.get(cls)
        if kind is not None:
            return kind
    return None


def _extension_depends(base: Any) -> Depends | None:
    """``auth: Auth`` (any extension class): a dependency on the app's installed one."""
    from prow.extensions._inject import extension_dependency, extension_kind

    kind = extension_kind(base)
    return None if kind is None else Depends(extension_dependency(kind))


def _find(metadata: list[Any], default: Any, kind: type[Any]) -> Any:
    for item in reversed(metadata):
        if isinstance(item, kind):
            return item
    return default if isinstance(default, kind) else None


def _plan_value(
    call: Callable[..., Any],
    parameter: inspect.Parameter,
    base: Any,
    metadata: list[Any],
    path_names: frozenset[str],
) -> ParamPlan:
    marker = _find(metadata, parameter.default, Param)
    other = [m for m in metadata if not isinstance(m, Param)]
    annotation = typing.Annotated[(base, *other)] if other else base
    if marker is None:
        marker = _default_marker(base, parameter, path_names)
    elif _default_outside_marker(marker, parameter):
        marker = copy.copy(marker)
        marker.default = parameter.default
    _check_marker(call, parameter.name, marker, path_names)
    alias = marker.alias or _default_alias(parameter.name, marker)
    param = ParamPlan(parameter.name, marker.source, alias, annotation, marker, is_sequence(base))
    if param.source in SIMPLE_SOURCES:
        param.convert = _converter(param)
    return param


def _default_outside_marker(marker: Param, parameter: inspect.Parameter) -> bool:
    """``x: Annotated[int, Query()] = 5``: the default is written outside the marker."""
    return (
        marker.default is REQUIRED
        and parameter.default is not inspect.Parameter.empty
        and not isinstance(parameter.default, Param)
    )


def _default_marker(base: Any, parameter: inspect.Parameter, path_names: frozenset[str]) -> Param:
    default = REQUIRED if parameter.default is inspect.Parameter.empty else parameter.default
    if parameter.name in path_names:
        return Path(default)
    if _is_upload(base):
        return File(default)
    if is_model_like(base):
        return Body(default)
    return Query(default)


def _is_upload(base: Any) -> bool:
    from prow._formdata import UploadFile

    target = unwrap_optional(base)
    if is_sequence(target):
        target = unwrap_optional(typing.get_args(target)[0]) if typing.get_args(target) else None
    return isinstance(target, type) and issubclass(target, UploadFile)


def _default_alias(name: str, marker: Param) -> str:
    if isinstance(marker, Header) and marker.convert_underscores:
        return name.replace("_", "-")
    return name


def _check_marker(
    call: Callable[..., Any], name: str, marker: Param, path_names: frozenset[str]
) -> None:
    if isinstance(marker, Path) and (marker.alias or name) not in path_names:
        raise ConfigurationError(
            "prow.E005",
            f"{describe(call)} declares path parameter {name!r} but the route path has no "
            f"{{{marker.alias or name}}} segment; add it to the path or use Query() instead.",
        )
    if isinstance(marker, Path) and not marker.required:
        raise ConfigurationError(
            "prow.E005",
            f"path parameter {name!r} of {describe(call)} has a default; path parameters are "
            "always required. Register a second route without the segment instead.",
        )


def _converter(param: ParamPlan) -> Converter:
    annotation = param.annotation
    if param.source == "path" or not param.required:
        # An optional ``int | None`` converts like ``int`` once the value is present.
        base, metadata = split_annotated(annotation)
        stripped = unwrap_optional(base)
        annotation = typing.Annotated[(stripped, *metadata)] if metadata else stripped
    return make_converter(annotation, param.marker.constraints)
