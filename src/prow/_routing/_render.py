"""Turning a handler's return value into a response, planned once from its return type."""

from __future__ import annotations

import inspect
import types
import typing
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic_core import ValidationError

from prow._params._types_util import is_model_like, split_annotated
from prow.responses import JSONResponse, Response

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = ["ResponsePlan", "ResponseValidationError"]

#: ``response_model`` left unset: the return annotation decides.
UNSET: Any = object()


class ResponseValidationError(Exception):
    """A handler returned data that does not fit its declared response type (a server bug)."""


class ResponsePlan:
    """Status, response class and output adapter for one route."""

    __slots__ = (
        "adapter",
        "content_type",
        "fast_json",
        "model",
        "response_class",
        "schema",
        "status_code",
        "validate",
    )

    def __init__(
        self,
        handler: Any,
        status_code: int | None,
        response_model: Any,
        response_class: type[Response] | None,
    ) -> None:
        self.response_class: type[Response] = response_class or JSONResponse
        self.status_code = status_code or 200
        self.schema = _response_schema(handler, response_model)
        self.adapter: TypeAdapter[Any] | None = None
        self.model: type[Any] | None = None
        self.validate = False
        if self.schema is not None:
            from pydantic import PydanticSchemaGenerationError, TypeAdapter

            try:
                self.adapter = TypeAdapter(self.schema)
            except PydanticSchemaGenerationError:
                self.schema = None
        if self.adapter is not None:
            self.validate = is_model_like(self.schema)
            base = split_annotated(self.schema)[0]
            self.model = base if isinstance(base, type) and self.validate else None
        self.fast_json = self.response_class.render is JSONResponse.render
        probe = self.response_class.__new__(self.response_class)
        probe.status_code = self.status_code
        self.content_type = (b"content-type", probe._content_type())

    def encode(self, value: Any) -> bytes:
        """JSON bytes for ``value``, validated and filtered by the declared type if any.

        Only model-like types (models, dataclasses, TypedDicts, containers of them) can
        filter anything, so only they go through their validator and serializer; plain
        types such as ``dict[str, Any]`` are encoded directly.
        """
        if not self.validate:
            # NaN and infinities are not JSON: null, as pydantic's own serializers write them.
            return pydantic_core.to_json(value, inf_nan_mode="null")
        assert self.adapter is not None
        if type(value) is not self.model:
            try:
                value = self.adapter.validator.validate_python(value, from_attributes=True)
            except ValidationError as exc:
                raise ResponseValidationError(
                    f"the handler's return value does not match its response type: {exc}"
                ) from exc
        return self.adapter.serializer.to_json(value)

    def render(self, value: Any) -> Response:
        if isinstance(value, Response):
            return value
        status = self.status_code
        if not self.fast_json:
            return self.response_class(value, status_code=status)
        response = self.response_class.__new__(self.response_class)
        response.status_code = status
        response.background = None
        response._plain = True
        if status in {204, 304} or (value is None and status >= 300):
            response.body = b""
            response.raw_headers = []
            return response
        body = self.encode(value)
        response.body = body
        response.raw_headers = [(b"content-length", str(len(body)).encode()), self.content_type]
        return response


def _response_schema(handler: Any, response_model: Any) -> Any:
    if response_model is not UNSET:
        return response_model
    try:
        hints = typing.get_type_hints(handler, include_extras=True)
    except (NameError, TypeError):
        return None
    annotation = hints.get("return", inspect.Signature.empty)
    if annotation in (inspect.Signature.empty, None, type(None), Any):
        return None
    base = split_annotated(annotation)[0]
    if isinstance(base, type) and issubclass(base, Response):
        return None
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        kept = [a for a in typing.get_args(base) if not _is_response(a)]
        if not kept:
            return None
        if len(kept) < len(typing.get_args(base)):
            annotation = kept[0] if len(kept) == 1 else typing.Union[tuple(kept)]  # noqa: UP007
    return with_response_schemas(annotation)


def with_response_schemas(annotation: Any) -> Any:
    """``annotation`` with every class that names its response schema replaced by it.

    A class does so with a ``__prow_response_schema__()`` class method: prow.db's models
    answer their derived read schema, so ``-> Product`` or ``-> list[Product]`` sends the
    columns the API shows (never a sensitive one), read from the row's attributes.
    """
    if isinstance(annotation, type):
        named = getattr(annotation, "__prow_response_schema__", None)
        return annotation if named is None else named()
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin is None or not args:
        return annotation
    if origin is typing.Annotated:
        inner = with_response_schemas(args[0])
        return annotation if inner is args[0] else typing.Annotated[(inner, *args[1:])]
    replaced = tuple(with_response_schemas(arg) for arg in args)
    if all(new is old for new, old in zip(replaced, args, strict=True)):
        return annotation
    if origin in (typing.Union, types.UnionType):
        return typing.Union[replaced]  # noqa: UP007
    copy_with = getattr(annotation, "copy_with", None)  # typing's aliases (Sequence[X])
    return copy_with(replaced) if copy_with is not None else origin[replaced]


def _is_response(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Response)
