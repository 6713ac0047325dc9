"""Building the OpenAPI 3.1 document from the compiled route plans.

The document is read from the same plans the requests run (``Route.plan`` and
``Route.response_plan``); no handler signature is inspected here, so what is documented is
what is enforced. The function is pure: no IO, no event loop.

App-level settings — ``App(openapi={...})`` accepts these keys:

``info``
    merged over ``{"title": app.title, "version": app.version, "description": ...}``
    (``contact``, ``license``, ``summary``, ``termsOfService``...).
``servers``, ``tags``, ``externalDocs``, ``webhooks``, ``security``
    copied to the top level of the document.
``components``
    deep-merged into the generated ``components``.
``securitySchemes``
    shortcut for ``components.securitySchemes``.
``x-...``
    specification extensions, copied as they are.

Security hook — a dependency (any callable in a route's dependency tree, including
route-level ``dependencies``) may carry an attribute ``__openapi_security__``: a list of
``(scheme_name, scheme, scopes)`` tuples. Each adds ``scheme`` (an OpenAPI Security Scheme
Object) as ``components.securitySchemes[scheme_name]`` and the requirement
``{scheme_name: scopes}`` to the operation's ``security``. Several entries are
alternatives (OpenAPI "any of"); scopes named twice for one scheme are merged. The hook may
instead be a callable ``(app) -> list`` for schemes that depend on the app's configuration
(``CurrentUser`` lists the API-key header only where the app's ``Auth`` takes API keys).
The route option ``security`` (a list of requirement objects) is appended after them.

A dependency marked ``__openapi_security_optional__ = True`` (``OptionalUser``) takes
credentials without requiring them: when no other dependency requires them, the operation's
``security`` starts with the empty requirement ``{}``.

Responses — the success answer, and every error answer the plan makes possible, are built by
``prow.openapi._responses`` (which documents the ``__openapi_responses__`` hook and the
``error_responses`` option). The ``responses`` option maps a status (``404``, ``"4XX"``,
``"default"``) to an OpenAPI Response Object, plus two prow keys: ``model`` (a type whose
schema becomes the content) and ``media_type`` (the content type for ``model``).

Request body — the planned body, or for a handler that reads its body itself the
``request_body`` option (media type -> model).
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prow._exceptions import ConfigurationError
from prow._routing._route import Route
from prow.openapi._responses import ErrorShapes, ResponsesBuilder, deep_merge
from prow.openapi._schemas import (
    SchemaRegistry,
    jsonable,
    openapi_path,
    param_annotation,
    param_schema_extras,
    path_kind_annotation,
)
from prow.responses import HTMLResponse

if TYPE_CHECKING:
    from prow._app import App
    from prow._params._plan import ParamPlan
    from prow._params._solve import RoutePlan

__all__ = ["build_openapi"]

OPENAPI_VERSION = "3.1.0"

#: Methods an OpenAPI Path Item can describe, in the order documents usually list them.
_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")
_TOP_LEVEL = ("servers", "tags", "externalDocs", "webhooks", "security")
_SETTINGS = frozenset((*_TOP_LEVEL, "info", "components", "securitySchemes"))


def build_openapi(app: App) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing every HTTP route of ``app`` shown in the schema."""
    settings = app.openapi_settings
    _check_settings(settings)
    builder = _Builder(app)
    paths: dict[str, dict[str, Any]] = {}
    for route in app.routes:
        if not isinstance(route, Route) or not _documented(route):
            continue
        path, kinds = openapi_path(route.path)
        item = paths.setdefault(path, {})
        for method in _documented_methods(route):
            # Two templates that differ only in converters ({id:int}, {id}) share an
            # OpenAPI path; the first route registered is the one documented.
            if method.lower() not in item:
                item[method.lower()] = builder.operation(route, method, kinds)
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": _info(app),
        "paths": {path: item for path, item in paths.items() if item},
    }
    components = builder.finish()
    for key in _TOP_LEVEL:
        if key in settings:
            document[key] = settings[key]
    document.update({k: v for k, v in settings.items() if k.startswith("x-")})
    components = _merged_components(components, settings)
    if components:
        document["components"] = components
    return document


def _documented(route: Route) -> bool:
    """Whether ``route`` is in the document: as its ``include_in_schema`` says, and for an
    HTML page (an ``HTMLResponse``, declared or annotated) only when it says so: a page is
    for browsers, not API clients, as in Django, where pages are no part of an API schema."""
    shown = route.options.get("include_in_schema")
    if shown is not None:
        return bool(shown)
    if route.response_plan is not None and issubclass(
        route.response_plan.response_class, HTMLResponse
    ):
        return False
    try:
        returned = typing.get_type_hints(route.endpoint).get("return")
    except (NameError, TypeError):  # the route's plan resolved what it needed
        return True
    return not (isinstance(returned, type) and issubclass(returned, HTMLResponse))


def _check_settings(settings: Mapping[str, Any]) -> None:
    unknown = sorted(k for k in settings if k not in _SETTINGS and not k.startswith("x-"))
    if unknown:
        raise ConfigurationError(
            "prow.E030",
            f"App(openapi=...) got unknown key(s) {unknown}; it accepts "
            f"{', '.join(sorted(_SETTINGS))} and 'x-' extensions",
        )


def _info(app: App) -> dict[str, Any]:
    info: dict[str, Any] = {"title": app.title, "version": app.version}
    if app.summary:
        info["summary"] = app.summary
    if app.description:
        info["description"] = app.description
    info.update(app.openapi_settings.get("info", {}))
    return info


def _documented_methods(route: Route) -> list[str]:
    # GET routes answer HEAD on their own; that stays out of the document unless a HEAD
    # handler was registered (then it is in route.methods). Custom methods have no
    # place in an OpenAPI Path Item.
    return [method for method in _METHODS if method in route.methods]


def _merged_components(generated: dict[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    components = deep_merge(generated, settings.get("components", {}))
    schemes = settings.get("securitySchemes")
    if schemes:
        components["securitySchemes"] = {**components.get("securitySchemes", {}), **schemes}
    return components


class _Builder:
    """Operations of one document, and what they share: ids, schemas, security schemes."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.schemas = SchemaRegistry()
        self.operation_ids: set[str] = set()
        self.security_schemes: dict[str, Any] = {}
        self.shapes = ErrorShapes()
        self.responses = ResponsesBuilder(self.schemas, self.shapes)
        self.extras: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def operation(self, route: Route, method: str, kinds: dict[str, str]) -> dict[str, Any]:
        """The Operation Object for one method of ``route``."""
        assert route.plan is not None and route.response_plan is not None
        options = route.options
        operation: dict[str, Any] = {}
        if options.get("tags"):
            operation["tags"] = list(options["tags"])
        operation["summary"] = options.get("summary") or _summary(route)
        description = options.get("description") or _docstring(route.endpoint)
        if description:
            operation["description"] = description
        operation["operationId"] = self._operation_id(route, method)
        parameters = self._parameters(route.plan, kinds)
        if parameters:
            operation["parameters"] = parameters
        request_body = self._request_body(route)
        if request_body is not None:
            operation["requestBody"] = request_body
        operation["responses"] = self.responses.responses(route, method)
        if options.get("deprecated"):
            operation["deprecated"] = True
        security = self._security(route)
        if security:
            operation["security"] = security
        if options.get("openapi_extra"):
            self.extras.append((operation, options["openapi_extra"]))
        return operation

    def finish(self) -> dict[str, Any]:
        """Generate every schema at once; return the ``components`` object."""
        schemas = self.schemas.generate()
        self.shapes.finish(schemas)
        # Applied last, once schema slots are filled, so that the user's keys win.
        for operation, extra in self.extras:
            operation.update(deep_merge(operation, extra))
        components: dict[str, Any] = {}
        if schemas:
            components["schemas"] = {name: schemas[name] for name in sorted(schemas)}
        if self.security_schemes:
            components["securitySchemes"] = dict(sorted(self.security_schemes.items()))
        return components

    def _operation_id(self, route: Route, method: str) -> str:
        base = route.options.get("operation_id") or f"{route.name or 'operation'}_{method.lower()}"
        candidate, number = base, 1
        while candidate in self.operation_ids:
            number += 1
            candidate = f"{base}_{number}"
        self.operation_ids.add(candidate)
        return candidate

    def _parameters(self, plan: RoutePlan, kinds: dict[str, str]) -> list[dict[str, Any]]:
        seen: set[tuple[str, str]] = set()
        parameters: list[dict[str, Any]] = []
        for param in plan.simple:
            key = (param.source, param.alias)
            if key in seen or not param.marker.include_in_schema:
                continue
            seen.add(key)
            parameters.append(self._parameter(param, kinds.get(param.alias)))
        for name, kind in kinds.items():
            # The document must declare every {name} of the path, even one no handler
            # reads or one hidden with include_in_schema=False.
            if ("path", name) not in seen:
                schema = self.schemas.add(path_kind_annotation(kind), "validation")
                parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        return parameters

    def _parameter(self, param: ParamPlan, path_kind: str | None) -> dict[str, Any]:
        marker = param.marker
        annotation = param_annotation(param, path_kind)
        parameter: dict[str, Any] = {
            "name": param.alias,
            "in": param.source,
            "required": param.source == "path" or param.required,
            "schema": self.schemas.add(annotation, "validation", param_schema_extras(marker)),
        }
        if marker.description:
            parameter["description"] = marker.description
        if marker.deprecated:
            parameter["deprecated"] = True
        if param.sequence and param.source == "query":
            parameter["style"] = "form"
            parameter["explode"] = True
        parameter.update(_examples(marker.examples))
        return parameter

    def _request_body(self, route: Route) -> dict[str, Any] | None:
        body = route.plan.body if route.plan is not None else None
        if body is not None:
            schema = self.schemas.add(body.adapter, "validation")
            return {"content": {body.media_type: {"schema": schema}}, "required": body.required}
        # A handler that reads the body itself (request.json(), request.form()) says what
        # it reads with the request_body option: media type -> model.
        declared = route.options.get("request_body")
        if not declared:
            return None
        content = {
            media_type: {"schema": self.schemas.add(model, "validation")}
            for media_type, model in declared.items()
        }
        return {"content": content, "required": True}

    def _security(self, route: Route) -> list[dict[str, list[str]]]:
        assert route.plan is not None
        scopes_by_scheme: dict[str, list[str]] = {}
        optional = True
        for call_plan in route.plan.all_plans():
            hooks = getattr(call_plan.call, "__openapi_security__", None) or ()
            if callable(hooks):
                hooks = hooks(self.app)
            if hooks and not getattr(call_plan.call, "__openapi_security_optional__", False):
                optional = False
            for name, scheme, scopes in hooks:
                self.security_schemes.setdefault(name, dict(scheme))
                merged = scopes_by_scheme.setdefault(name, [])
                merged.extend(scope for scope in scopes if scope not in merged)
        requirements = [{name: scopes} for name, scopes in scopes_by_scheme.items()]
        if requirements and optional:
            # Only optional dependencies (OptionalUser) take credentials: an anonymous
            # request is answered too, which OpenAPI writes as the empty requirement.
            requirements.insert(0, {})
        for requirement in route.options.get("security", []):
            if requirement not in requirements:
                requirements.append(dict(requirement))
        return requirements


def _summary(route: Route) -> str:
    name = getattr(route.endpoint, "__name__", None) or route.name or "operation"
    return " ".join(word[:1].upper() + word[1:] for word in name.split("_") if word)


def _docstring(endpoint: Any) -> str | None:
    # Only functions and methods: a partial or an instance would lend its class's
    # docstring, which describes the wrapper and not this endpoint.
    if not (inspect.isfunction(endpoint) or inspect.ismethod(endpoint)) or not endpoint.__doc__:
        return None
    # Text after a form feed is for developers only (the FastAPI convention).
    return inspect.cleandoc(endpoint.__doc__.split("\f")[0]) or None


def _examples(examples: list[Any] | None) -> dict[str, Any]:
    """A marker's examples as OpenAPI wants them: ``example`` or a map of Example Objects."""
    if not examples:
        return {}
    if len(examples) == 1:
        return {"example": jsonable(examples[0])}
    named = {f"example{i}": {"value": jsonable(value)} for i, value in enumerate(examples, 1)}
    return {"examples": named}
