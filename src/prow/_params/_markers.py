"""Markers a handler's signature uses to say where a parameter comes from.

``Annotated[int, Query(alias="page-size", ge=1)]`` or ``limit: int = Query(10, le=100)``.
They only record intent; the planner turns them into extractors once, at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    # To a type checker a marker is Any, so the FastAPI-style ``limit: int = Query(10)``
    # and ``db: Session = Depends(get_db)`` type-check; at run time it is a plain class.
    _Marker = Any
else:
    _Marker = object

__all__ = ["Body", "Cookie", "Depends", "File", "Form", "Header", "Param", "Path", "Query"]

#: The constraint keywords markers forward to pydantic's ``Field``.
_CONSTRAINTS = (
    "gt",
    "ge",
    "lt",
    "le",
    "multiple_of",
    "min_length",
    "max_length",
    "pattern",
    "strict",
    "allow_inf_nan",
    "max_digits",
    "decimal_places",
)


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a marker whose parameter must be given.
REQUIRED: Any = _Required()


class Param(_Marker):  # type: ignore[misc]  # see _Marker
    """Where a value comes from, its public name, its documentation and its constraints."""

    source = "query"

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        alias: str | None = None,
        title: str | None = None,
        description: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool = False,
        include_in_schema: bool = True,
        default_factory: Callable[[], Any] | None = None,
        **constraints: Any,
    ) -> None:
        unknown = set(constraints) - set(_CONSTRAINTS)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got unknown option(s) {sorted(unknown)}; "
                f"constraints it accepts: {', '.join(_CONSTRAINTS)}"
            )
        self.default = default
        self.default_factory = default_factory
        self.alias = alias
        self.title = title
        self.description = description
        self.examples = examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema
        self.constraints = constraints

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and self.default_factory is None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alias={self.alias!r})"


class Path(Param):
    """A value from the URL path template, e.g. ``{item_id}``."""

    source = "path"


class Query(Param):
    """A value from the query string; ``list[T]`` collects repeated keys."""

    source = "query"


class Header(Param):
    """A request header; ``x_token`` reads ``x-token`` unless ``convert_underscores=False``."""

    source = "header"

    def __init__(
        self, default: Any = REQUIRED, *, convert_underscores: bool = True, **options: Any
    ) -> None:
        super().__init__(default, **options)
        self.convert_underscores = convert_underscores


class Cookie(Param):
    """A cookie sent by the client."""

    source = "cookie"


class Body(Param):
    """The JSON body, or one key of it with ``embed=True`` (several bodies embed by name)."""

    source = "body"

    def __init__(
        self,
        default: Any = REQUIRED,
        *,
        embed: bool = False,
        media_type: str = "application/json",
        **options: Any,
    ) -> None:
        super().__init__(default, **options)
        self.embed = embed
        self.media_type = media_type


class Form(Param):
    """A field of a urlencoded or multipart form; a model annotated with it reads the whole form."""

    source = "form"


class File(Form):
    """An uploaded file of a multipart form (``UploadFile``, ``bytes`` or a list of them)."""

    source = "file"


class Depends(_Marker):  # type: ignore[misc]  # see _Marker
    """A value computed by calling ``dependency`` with its own extracted parameters.

    The result is cached for the request unless ``use_cache=False``. Generator
    dependencies run their code after ``yield`` once the response has been sent
    (``scope="request"``, the default), or as soon as the handler returns and before
    the response is sent (``scope="function"``): use that when the teardown can fail
    in a way the client must hear about, such as committing a database transaction.
    """

    __slots__ = ("dependency", "scope", "use_cache")

    def __init__(
        self,
        dependency: Callable[..., Any] | None = None,
        *,
        use_cache: bool = True,
        scope: Literal["request", "function"] = "request",
    ):
        if scope not in ("request", "function"):
            raise ValueError(f"Depends scope must be 'request' or 'function', not {scope!r}")
        self.dependency = dependency
        self.use_cache = use_cache
        self.scope = scope

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name})"
