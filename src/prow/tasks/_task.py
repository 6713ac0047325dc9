"""``@task``: a function made into a task, its options, its argument model and its injection plan.

A task's parameters are of two kinds, told apart once when the task is first used:

- **arguments**, given to ``enqueue()``: validated by pydantic then (a wrong type fails the
  enqueue, not the worker) and stored as JSON;
- **injected** ones, as in handlers: ``Annotated[..., Depends(...)]`` (``DBSession``...), an
  extension class, ``Request``. The worker resolves them for each run with prow's own
  dependency engine, against the app, so a ``DBSession`` commits when the task returns.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import random
import typing
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

import pydantic

from prow._exceptions import ConfigurationError

if TYPE_CHECKING:
    from prow._params._plan import CallPlan
    from prow.tasks._handle import TaskHandle

__all__ = ["REGISTRY", "Task", "TaskOptions", "task"]

P = ParamSpec("P")
R = TypeVar("R")

#: Every task defined in the process, by name: what a worker looks a message's task up in.
#: Definitions only (like a module's routes); which backend runs them is each app's ``Tasks``.
REGISTRY: dict[str, Task[Any, Any]] = {}

#: ``enqueue()``'s own keyword arguments: a task cannot take arguments of these names.
RESERVED = frozenset(("key", "eta"))
MAX_BACKOFF = 3600.0


@dataclasses.dataclass(frozen=True, slots=True)
class TaskOptions:
    """How a task runs: retries, backoff (seconds, doubled per attempt), timeout, queue..."""

    name: str
    retries: int = 0
    backoff: float = 1.0
    timeout: float | None = None
    queue: str = "default"
    schedule: str | None = None
    every: datetime.timedelta | None = None
    keep_result: bool = False

    def delay(self, attempts: int) -> float:
        """Seconds before retrying after ``attempts`` failed attempts: exponential, jittered.

        ``backoff * 2**(attempts - 1)``, capped at an hour, times a random factor in
        [0.5, 1.5) so that tasks failing together do not retry together.
        """
        base = min(MAX_BACKOFF, self.backoff * 2.0 ** max(0, attempts - 1))
        return base * (0.5 + random.random())  # noqa: S311 - jitter, not a secret


class Task(Generic[P, R]):
    """A task: call it to run it here and now; ``await it.enqueue(...)`` to run it in a worker."""

    def __init__(self, function: Callable[P, Awaitable[R]] | Callable[P, R], options: TaskOptions):
        self.function = function
        self.options = options
        self.name = options.name
        functools.update_wrapper(self, function)
        self._plan: tuple[pydantic.TypeAdapter[Any], CallPlan, list[str], Any] | None = None

    def __repr__(self) -> str:
        return f"<task {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R] | R:
        return self.function(*args, **kwargs)

    async def enqueue(self, *args: Any, **kwargs: Any) -> TaskHandle[R]:
        """Queue a run with these arguments; returns its handle.

        ``key=`` makes it idempotent (a second enqueue with the key is a no-op returning the
        first one's handle); ``eta=`` (a datetime or a timedelta from now) delays it. Inside a
        request that uses a ``DBSession``, the task is written in the request's transaction:
        it exists only if the request commits.
        """
        from prow.tasks._extension import enqueue

        key = kwargs.pop("key", None)
        eta = kwargs.pop("eta", None)
        return await enqueue(self, self.dump_arguments(args, kwargs), key=key, eta=eta)

    # -- arguments -----------------------------------------------------------------------------

    def dump_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """Validate arguments against the signature and give their JSON (``TaskArgumentsError``)."""
        from prow.tasks._errors import TaskArgumentsError

        model, _, names, _ = self.plan()
        if len(args) > len(names):
            raise TaskArgumentsError(self.name, f"takes {len(names)} arguments, got {len(args)}")
        given = dict(zip(names, args, strict=False))
        for name in kwargs:
            if name in given:
                raise TaskArgumentsError(self.name, f"got two values for {name!r}")
        given.update(kwargs)
        try:
            value = model.validate_python(given)
        except pydantic.ValidationError as exc:
            raise TaskArgumentsError(self.name, _describe(exc)) from None
        return model.dump_json(value).decode()

    def load_arguments(self, text: str) -> dict[str, Any]:
        model, _, names, _ = self.plan()
        value = model.validate_json(text)
        return {name: getattr(value, name) for name in names}

    def dump_result(self, value: Any) -> str:
        _, _, _, result = self.plan()
        return result.dump_json(value).decode()  # type: ignore[no-any-return]

    def load_result(self, text: str) -> Any:
        _, _, _, result = self.plan()
        return result.validate_json(text)

    def plan(self) -> tuple[pydantic.TypeAdapter[Any], CallPlan, list[str], Any]:
        """(argument model, injection plan, argument names, result adapter), made once."""
        if self._plan is None:
            self._plan = _plan(self.function, self.name)
        return self._plan


def task(
    function: Callable[P, Any] | None = None,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    timeout: float | None = None,
    queue: str = "default",
    schedule: str | None = None,
    every: datetime.timedelta | None = None,
    keep_result: bool = False,
) -> Any:
    """Make a function a task: ``@task`` or ``@task(retries=5, backoff=2.0, timeout=30)``.

    ``retries``: attempts after the first one fails (with ``backoff`` seconds, doubled each
    time and jittered); ``timeout``: seconds before an attempt is cancelled (and retried);
    ``schedule`` (cron, ``"*/5 * * * *"``) or ``every`` (a timedelta): run periodically, once
    per period across all workers; ``keep_result``: keep the return value for
    ``await handle.result()``. ``name`` defaults to ``module:qualname``.
    """

    def decorate(fn: Callable[P, Any]) -> Task[P, Any]:
        options = TaskOptions(
            name=name or f"{fn.__module__}:{fn.__qualname__}",
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            queue=queue,
            schedule=schedule,
            every=every,
            keep_result=keep_result,
        )
        _check_options(options)
        made: Task[P, Any] = Task(fn, options)
        REGISTRY[options.name] = made
        return made

    return decorate if function is None else decorate(function)


def _check_options(options: TaskOptions) -> None:
    problem = None
    if options.retries < 0 or options.backoff < 0:
        problem = "retries and backoff cannot be negative"
    elif options.timeout is not None and options.timeout <= 0:
        problem = "timeout must be a positive number of seconds"
    elif options.schedule is not None and options.every is not None:
        problem = "give schedule (cron) or every (a timedelta), not both"
    elif options.every is not None and options.every.total_seconds() <= 0:
        problem = "every must be a positive timedelta"
    elif options.schedule is not None:
        from prow.tasks._schedule import check_cron

        problem = check_cron(options.schedule)
    if problem is not None:
        raise ConfigurationError("prow.E230", f"task {options.name}: {problem}")


def _plan(
    function: Callable[..., Any], name: str
) -> tuple[pydantic.TypeAdapter[Any], CallPlan, list[str], Any]:
    from prow._params._plan import compile_call
    from prow._routing._route import SPECIAL_TYPES

    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except (NameError, TypeError) as exc:
        raise ConfigurationError(
            "prow.E231", f"task {name}: cannot resolve its type annotations: {exc}"
        ) from exc
    signature = inspect.signature(function)
    injected: list[inspect.Parameter] = []
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        annotation = hints.get(parameter.name, Any)
        if _is_injected(annotation, parameter.default, SPECIAL_TYPES):
            injected.append(parameter)
            continue
        if parameter.name in RESERVED or parameter.kind in (
            parameter.VAR_POSITIONAL,
            parameter.VAR_KEYWORD,
        ):
            raise ConfigurationError(
                "prow.E231",
                f"task {name}: parameter {parameter.name!r} cannot be a task argument "
                f"({', '.join(sorted(RESERVED))} are enqueue()'s own; no *args/**kwargs)",
            )
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    model = pydantic.create_model(
        f"{getattr(function, '__name__', 'task')}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )

    async def inject(**values: Any) -> dict[str, Any]:
        return values

    inject.__signature__ = signature.replace(parameters=injected)  # type: ignore[attr-defined]
    inject.__annotations__ = {p.name: hints[p.name] for p in injected if p.name in hints}
    plan = compile_call(inject, frozenset(), SPECIAL_TYPES)
    returns = hints.get("return", Any)
    result = pydantic.TypeAdapter(Any if returns is type(None) else returns)
    return pydantic.TypeAdapter(model), plan, list(fields), result


def _is_injected(annotation: Any, default: Any, specials: dict[type, str]) -> bool:
    from prow._params import Depends
    from prow.extensions import Extension

    if isinstance(default, Depends):
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        if any(isinstance(meta, Depends) for meta in annotation.__metadata__):
            return True
        annotation = typing.get_args(annotation)[0]
    base = typing.get_origin(annotation) or annotation
    if not isinstance(base, type):
        return False
    return base in specials or issubclass(base, Extension)


def _describe(error: pydantic.ValidationError) -> str:
    parts = []
    for entry in error.errors():
        where = ".".join(str(part) for part in entry["loc"]) or "arguments"
        parts.append(f"{where}: {entry['msg']}")
    return "; ".join(parts)
