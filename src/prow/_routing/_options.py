"""Route options have one home: this TypedDict, resolved app → router → route in one place."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = ["RouteOptions", "merge_options"]


class RouteOptions(TypedDict, total=False):
    """Settings a route, a router or the app can carry.

    Lists (``tags``, ``dependencies``) and mappings (``responses``, ``openapi_extra``)
    accumulate from the outside in; single values set closer to the handler win.
    """

    status_code: int
    name: str
    tags: list[str]
    dependencies: list[Any]
    response_model: Any
    response_class: type[Any]
    summary: str
    description: str
    deprecated: bool
    include_in_schema: bool
    operation_id: str
    responses: dict[int | str, dict[str, Any]]
    #: OpenAPI: the shape of error answers, for an app whose exception handler replaces
    #: prow's problem documents: status (or ``"default"``) -> ``{"model": ..., "media_type": ...}``.
    error_responses: dict[int | str, dict[str, Any]]
    #: OpenAPI: the body of a handler that reads it itself (``await request.json()``):
    #: media type -> the model it expects.
    request_body: dict[str, Any]
    openapi_extra: dict[str, Any]
    security: list[dict[str, list[str]]]
    #: ``False`` exempts the routes from the CSRF check (webhooks, token-only APIs);
    #: ``"strict"`` checks the origin even of requests without cookies (login, logout).
    csrf: bool | Literal["strict"]
    #: The largest request body, in bytes, these routes accept (413 past it).
    max_body_size: int
    #: Response caching (``prow.cache``): seconds, a ``CachePolicy``, or ``Invalidates(...)``
    #: on a write route. The app gets a ``Cache()`` when none is installed.
    cache: Any


_ACCUMULATE = ("tags", "dependencies", "security")
KNOWN = frozenset(RouteOptions.__annotations__)
_MERGE = ("responses", "openapi_extra", "error_responses")
#: Options that describe one route only; a router or app passing them is a mistake.
ROUTE_ONLY = frozenset(
    ("name", "operation_id", "summary", "description", "status_code", "request_body")
)


def check_options(options: RouteOptions | dict[str, Any], where: str) -> None:
    """Refuse misspelt or unknown options at once instead of ignoring them."""
    unknown = sorted(set(options) - KNOWN)
    if unknown:
        raise TypeError(
            f"{where} got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"route options are: {', '.join(sorted(KNOWN))}"
        )
    csrf = options.get("csrf", True)
    if csrf not in (True, False, "strict"):
        raise TypeError(f"{where}: csrf must be True, False or 'strict', not {csrf!r}")


def merge_options(*layers: RouteOptions | dict[str, Any]) -> RouteOptions:
    """Combine option layers, outermost (app) first, innermost (route) last."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in dict(layer).items():
            if key in _ACCUMULATE:
                existing = merged.get(key, [])
                merged[key] = existing + [v for v in value if v not in existing]
            elif key in _MERGE:
                merged[key] = {**merged.get(key, {}), **value}
            elif key == "deprecated":
                merged[key] = merged.get(key, False) or value
            elif key == "csrf" and value == "strict" and merged.get(key) is False:
                # App(csrf=False) turns the check off everywhere, built-in strict routes too.
                continue
            elif key == "include_in_schema":
                merged[key] = merged.get(key, True) and value
            else:
                merged[key] = value
    return merged  # type: ignore[return-value]
