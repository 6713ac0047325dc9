"""An operation's Responses Object: its success answer and every error answer it can give.

The error answers are read from the compiled plan and the route's options, the same ones the
request runs, so the document lists what can happen and nothing else:

=========================================  ===============================================
the route                                  can answer
=========================================  ===============================================
takes path, query, header or cookie input  422 (validation)
reads a body (planned, or ``request_body``)  400 (malformed), 413 (too large), 415 (wrong
                                           ``Content-Type``), 422
has an unsafe method and a CSRF check      403 (the check failed)
uses a dependency that lists answers       what it lists in ``__openapi_responses__``:
                                           401 from ``CurrentUser``, 403 from ``requires``,
                                           429 from a rate limit, 503 (and 404/409/422)
                                           from a database ``Session``
=========================================  ===============================================

``__openapi_responses__`` is a mapping of status to Response Object, or a callable
``(method, path) -> mapping`` for answers that depend on the operation (a database session
answers 409 only where it may write). Every error answer is a problem document
(``application/problem+json``): the ``Problem`` component, or ``ValidationProblem`` for 422,
unless the route option ``error_responses`` says otherwise (an app whose exception handler
answers in its own format declares that format there). The ``responses`` option comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from prow._csrf import UNSAFE_METHODS
from prow.openapi._schemas import (
    REF_TEMPLATE,
    SchemaRegistry,
    problem_schema,
    validation_problem_schema,
)

if TYPE_CHECKING:
    from prow._routing._route import Route

__all__ = ["PROBLEM_JSON", "ErrorShapes", "ResponsesBuilder", "deep_merge"]

PROBLEM_JSON = "application/problem+json"

#: Answers any route with a body can give, before its handler runs.
_BODY_ERRORS = {
    400: "Bad Request: the body is malformed",
    413: "Content Too Large: the body is larger than the route accepts",
    415: "Unsupported Media Type: the body's Content-Type is not one the route reads",
}
_VALIDATION = "Validation Error"
_CSRF = "Forbidden: the CSRF check failed (a cookie-carrying request from another site)"
_PROWS_OWN = frozenset(("model", "media_type"))


class ErrorShapes:
    """The shared problem schemas: slots filled once every other schema is named."""

    def __init__(self) -> None:
        self.problem: dict[str, Any] = {}
        self.validation: dict[str, Any] = {}
        self._used: set[str] = set()

    def content(self, status: str) -> dict[str, Any]:
        """The default content of an error answer with ``status``."""
        if status == "422":
            self._used.add("ValidationProblem")
            return {PROBLEM_JSON: {"schema": self.validation}}
        self._used.add("Problem")
        return {PROBLEM_JSON: {"schema": self.problem}}

    def finish(self, schemas: dict[str, Any]) -> None:
        """Add the problem schemas that were used to ``schemas``, under free names."""
        for name, slot, schema in (
            ("Problem", self.problem, problem_schema),
            ("ValidationProblem", self.validation, validation_problem_schema),
        ):
            if name in self._used:
                free = _free_name(name, schemas)
                schemas[free] = schema()
                slot["$ref"] = REF_TEMPLATE.format(model=free)


class ResponsesBuilder:
    """Builds the Responses Objects of one document."""

    def __init__(self, schemas: SchemaRegistry, shapes: ErrorShapes) -> None:
        self.schemas = schemas
        self.shapes = shapes

    def responses(self, route: Route, method: str) -> dict[str, Any]:
        """The Responses Object for ``method`` of ``route``."""
        declared = {str(k): v for k, v in route.options.get("responses", {}).items()}
        success_status, success = self._success(route, declared)
        responses: dict[str, Any] = {success_status: success}
        errors = _ErrorAnswers(self, route)
        for status, description in _derived(route, method):
            errors.add(status, {"description": description})
        for call_plan in _plans(route):
            for status, entry in _hook_responses(call_plan.call, method, route.path).items():
                errors.add(str(status), entry)
        responses.update(errors.entries)
        for status, value in declared.items():
            entry = errors.user_entry(status, value, self._media_type(route))
            current = responses.get(status) or {"description": _phrase(status, "Other Response")}
            if "content" in entry:
                current = {k: v for k, v in current.items() if k != "content"}
            responses[status] = deep_merge(current, entry)
        return responses

    def _success(
        self, route: Route, declared: Mapping[str, Mapping[str, Any]]
    ) -> tuple[str, dict[str, Any]]:
        response_plan = route.response_plan
        assert response_plan is not None
        status = response_plan.status_code
        success: dict[str, Any] = {"description": _phrase(status, "Successful Response")}
        own = declared.get(str(status), {})
        # The route describes its answer itself (a wider schema, another media type): the
        # response model's schema is not generated, so it leaves no unused component.
        if status not in (204, 304) and "model" not in own and "content" not in own:
            schema = (
                {}
                if response_plan.adapter is None
                else self.schemas.add(response_plan.adapter, "serialization")
            )
            success["content"] = {self._media_type(route): {"schema": schema}}
        return str(status), success

    @staticmethod
    def _media_type(route: Route) -> str:
        assert route.response_plan is not None
        return getattr(route.response_plan.response_class, "media_type", None) or "application/json"

    def model_content(self, value: Mapping[str, Any], media_type: str) -> dict[str, Any]:
        """``value`` (a Response Object plus prow's ``model``/``media_type``) as OpenAPI."""
        entry = {k: v for k, v in value.items() if k not in _PROWS_OWN}
        if value.get("model") is not None:
            schema = self.schemas.add(value["model"], "serialization")
            content = {value.get("media_type") or media_type: {"schema": schema}}
            entry["content"] = deep_merge(content, entry.get("content", {}))
        return entry


class _ErrorAnswers:
    """The error entries of one operation, in the shape the route's errors take."""

    def __init__(self, builder: ResponsesBuilder, route: Route) -> None:
        self.builder = builder
        self.declared = {str(k): v for k, v in route.options.get("error_responses", {}).items()}
        self.entries: dict[str, dict[str, Any]] = {}

    def add(self, status: str, value: Mapping[str, Any]) -> None:
        """Add (or join) the answer ``status`` that a plan or a dependency can cause."""
        entry = self.user_entry(status, value, PROBLEM_JSON)
        current = self.entries.get(status)
        if current is None:
            entry.setdefault("description", _phrase(status, "Error"))
            self.entries[status] = entry
            return
        descriptions = [current.get("description"), entry.get("description")]
        joined = "; ".join(dict.fromkeys(d for d in descriptions if d))
        merged = deep_merge(current, {k: v for k, v in entry.items() if k != "content"})
        # Each media type's object is taken whole: its schema is a slot the registry fills
        # later, and a merged copy of an unfilled slot would stay ``{}`` (any body at all).
        merged["content"] = {**current.get("content", {}), **entry.get("content", {})}
        merged["description"] = joined or _phrase(status, "Error")
        self.entries[status] = merged

    def user_entry(self, status: str, value: Mapping[str, Any], media_type: str) -> dict[str, Any]:
        """``value`` as OpenAPI; an error answer that names no content gets the error shape.

        ``media_type`` is the success answer's, for a ``model`` given without one; an error
        answer's ``model`` is in the error shape's media type (problem+json by default).
        """
        if not _is_error(status):
            return self.builder.model_content(value, media_type)
        shape = self.declared.get(status) or self.declared.get("default")
        if shape is None:
            entry = self.builder.model_content(value, PROBLEM_JSON)
            entry.setdefault("content", self.builder.shapes.content(status))
        else:
            shape_media = shape.get("media_type") or "application/json"
            entry = self.builder.model_content(value, shape_media)
            if "content" not in entry:
                declared = self.builder.model_content(shape, shape_media).get("content")
                entry["content"] = declared or self.builder.shapes.content(status)
            if shape.get("headers"):
                entry["headers"] = {**shape["headers"], **entry.get("headers", {})}
        if shape is not None and shape.get("description"):
            entry.setdefault("description", shape["description"])
        return entry


def _derived(route: Route, method: str) -> list[tuple[str, str]]:
    """The error answers the route's plan and options make possible, before any dependency."""
    plan = route.plan
    assert plan is not None
    found: list[tuple[str, str]] = []
    has_body = plan.body is not None or bool(route.options.get("request_body"))
    if has_body:
        found.extend((str(status), text) for status, text in _BODY_ERRORS.items())
    if route.csrf_guard is not None and method in UNSAFE_METHODS:
        found.append(("403", _CSRF))
    if plan.simple or has_body:
        found.append(("422", _VALIDATION))
    return found


def _plans(route: Route) -> list[Any]:
    assert route.plan is not None
    return route.plan.all_plans()


def _hook_responses(call: Callable[..., Any], method: str, path: str) -> Mapping[Any, Any]:
    hook = getattr(call, "__openapi_responses__", None)
    if hook is None:
        return {}
    if callable(hook) and not isinstance(hook, Mapping):
        return hook(method, path) or {}
    return hook  # type: ignore[no-any-return]


def _is_error(status: str) -> bool:
    return status[:1] in ("4", "5") or status == "default"


def _phrase(status: int | str, fallback: str) -> str:
    try:
        return HTTPStatus(int(status)).phrase
    except ValueError:
        return fallback


def _free_name(name: str, taken: Mapping[str, Any]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}{number}"
    return candidate


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``extra`` laid over it; nested mappings merge key by key."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged
