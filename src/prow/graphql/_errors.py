"""How failures become GraphQL errors: one documented shape, the same facts as the REST answers.

Every error prow raises while resolving carries ``extensions.code`` (a stable word) and
``extensions.status`` (the HTTP status the same failure gets over REST); invalid input also
lists each bad field in ``extensions.errors`` as ``{"loc", "msg", "type"}`` entries, the entries
of a REST 422 problem document::

    {"message": "invalid input for createItem",
     "path": ["createItem"],
     "extensions": {"code": "BAD_USER_INPUT", "status": 422,
                    "errors": [{"loc": ["data", "price"], "msg": "Input should be greater
                                than 0", "type": "greater_than", "input": -1}]}}
"""

from __future__ import annotations

from typing import Any

import pydantic
from graphql import GraphQLError

from prow._exceptions import HTTPError
from prow._params._errors import error_entries

__all__ = ["CODES", "graphql_error", "input_error"]

#: HTTP status -> ``extensions.code``.
CODES = {
    400: "BAD_USER_INPUT",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    413: "BAD_USER_INPUT",
    422: "BAD_USER_INPUT",
    503: "SERVICE_UNAVAILABLE",
}


def graphql_error(exc: HTTPError) -> GraphQLError:
    """``exc`` (what a REST handler would answer) as a GraphQL error."""
    extensions: dict[str, Any] = {"code": CODES.get(exc.status, "ERROR"), "status": exc.status}
    extra = getattr(exc, "extra", None)
    if isinstance(extra, dict):
        extensions.update({k: v for k, v in extra.items() if k not in extensions})
    return GraphQLError(str(exc.detail), extensions=extensions, original_error=None)


def input_error(operation: str, exc: pydantic.ValidationError, prefix: list[Any]) -> GraphQLError:
    """The field errors of ``exc`` as one ``BAD_USER_INPUT`` error of ``operation``."""
    return GraphQLError(
        f"invalid input for {operation}",
        extensions={"code": "BAD_USER_INPUT", "status": 422, "errors": error_entries(exc, prefix)},
    )
