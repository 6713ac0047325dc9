"""JSON Schema for an OpenAPI document: every type it mentions, generated in one pass.

Operations are assembled first; each place that needs a schema asks the
:class:`SchemaRegistry` for a *slot* (an empty dict put into the document) and the
registry fills all slots at once with pydantic's ``GenerateJsonSchema``. One pass means
a model used by several routes becomes one component, and two different models that
share a class name get distinct component names instead of overwriting each other.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

import pydantic_core
from pydantic import Field, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

from prow._params._markers import Param
from prow._params._plan import ParamPlan
from prow._params._types_util import split_annotated, unwrap_optional

__all__ = [
    "REF_TEMPLATE",
    "SchemaRegistry",
    "jsonable",
    "openapi_path",
    "param_annotation",
    "param_schema_extras",
    "path_kind_annotation",
    "problem_schema",
    "validation_problem_schema",
]

Mode = Literal["validation", "serialization"]

REF_TEMPLATE = "#/components/schemas/{model}"

_PLACEHOLDER = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]+))?}")

#: What a ``{name:kind}`` path converter hands the handler, as a documentable type.
_PATH_KINDS: dict[str, Any] = {
    "str": str,
    "path": str,
    "int": int,
    "float": float,
    "uuid": uuid.UUID,
}


class _Generator(GenerateJsonSchema):
    """pydantic's generator, tolerant of types that have no JSON Schema."""

    def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> JsonSchemaValue:
        # A parameter typed as a callable or an arbitrary class still works at run time;
        # documenting it as "any value" beats failing the whole /openapi.json.
        return {}


class SchemaRegistry:
    """Collects the types an OpenAPI document needs; :meth:`generate` fills them in."""

    def __init__(self) -> None:
        self._inputs: list[tuple[int, Mode, CoreSchema]] = []
        self._slots: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self._adapters: dict[Any, TypeAdapter[Any]] = {}

    def add(self, source: Any, mode: Mode, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """A slot that will hold the schema of ``source`` (a type or a ``TypeAdapter``).

        ``extra`` keys (a title, a default) are laid over the generated schema.
        """
        adapter = source if isinstance(source, TypeAdapter) else self._adapter(source)
        slot: dict[str, Any] = {}
        self._inputs.append((len(self._inputs), mode, adapter.core_schema))
        self._slots.append((slot, extra or {}))
        return slot

    def _adapter(self, annotation: Any) -> TypeAdapter[Any]:
        try:
            cached = self._adapters.get(annotation)
        except TypeError:  # unhashable metadata inside Annotated[...]
            return TypeAdapter(annotation)
        if cached is None:
            cached = self._adapters[annotation] = TypeAdapter(annotation)
        return cached

    def generate(self) -> dict[str, Any]:
        """Fill every slot; return the component schemas, sorted by name."""
        if not self._inputs:
            return {}
        generator = _Generator(ref_template=REF_TEMPLATE)
        mapping, definitions = generator.generate_definitions(self._inputs)
        for key, mode, _ in self._inputs:
            slot, extra = self._slots[key]
            slot.update(mapping[(key, mode)])
            slot.update(extra)
        return {name: definitions[name] for name in sorted(definitions)}


def openapi_path(template: str) -> tuple[str, dict[str, str]]:
    """``/items/{item_id:int}`` → ``("/items/{item_id}", {"item_id": "int"})``."""
    kinds: dict[str, str] = {}

    def strip(found: re.Match[str]) -> str:
        kinds[found.group(1)] = found.group(2) or "str"
        return "{" + found.group(1) + "}"

    return _PLACEHOLDER.sub(strip, template), kinds


def path_kind_annotation(kind: str) -> Any:
    """The type a ``{name:kind}`` converter produces (``str`` for unknown kinds)."""
    return _PATH_KINDS.get(kind, str)


def param_annotation(param: ParamPlan, path_kind: str | None) -> Any:
    """The type a path/query/header/cookie parameter is documented with.

    It mirrors what the parameter's converter validates: optional parameters lose their
    ``| None`` (an absent value takes the default; a present one is never null), marker
    constraints apply, and a path parameter annotated as plain ``str`` (or not at all)
    takes the type of its ``{name:int}`` converter.
    """
    base, metadata = split_annotated(param.annotation)
    if param.source == "path" and base in (str, Any):
        base = path_kind_annotation(path_kind or "str")
    if param.source == "path" or not param.required:
        base = unwrap_optional(base)
    target: Any = Annotated[(base, *metadata)] if metadata else base
    if param.marker.constraints:
        target = Annotated[target, Field(**param.marker.constraints)]
    return target


def param_schema_extras(marker: Param) -> dict[str, Any]:
    """Schema keys a marker adds by itself: its ``title`` and a JSON-able ``default``."""
    extras: dict[str, Any] = {}
    if marker.title:
        extras["title"] = marker.title
    if not marker.required and marker.default_factory is None and marker.default is not None:
        default = jsonable(marker.default)
        if default is not None:
            extras["default"] = default
    return extras


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data, or ``None`` when it has no JSON form."""
    try:
        return pydantic_core.to_jsonable_python(value)
    except (TypeError, ValueError, pydantic_core.PydanticSerializationError):
        return None


def problem_schema() -> dict[str, Any]:
    """An RFC 9457 problem document, as every ``HTTPError`` answer carries.

    An error may add members of its own (``extra=``), so further properties are allowed.
    """
    return {
        "title": "Problem",
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": "A URI naming the kind of problem; about:blank when the "
                "status says it all.",
            },
            "title": {"type": "string", "description": "A short summary of the kind."},
            "status": {"type": "integer", "description": "The HTTP status code."},
            "detail": {"type": "string", "description": "What went wrong this time."},
        },
        "additionalProperties": True,
    }


def validation_problem_schema() -> dict[str, Any]:
    """The 422 answer: invalid input (``errors``) or a row the database refused.

    Input that does not match the handler's parameters lists one ``errors`` entry per bad
    field (see ``RequestValidationError``); a database constraint (NOT NULL, CHECK, a value
    too long for its column) names the ``violation``, the ``fields`` and the ``constraint``.
    """
    entry = {
        "type": "object",
        "required": ["loc", "msg", "type"],
        "properties": {
            "loc": {
                "type": "array",
                "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                "description": "Where the bad value is: source, then name, then nested keys.",
            },
            "msg": {"type": "string", "description": "What is wrong, for a human."},
            "type": {"type": "string", "description": "A stable error code."},
            "input": {"description": "The rejected value, when it is short and plain."},
        },
    }
    schema = problem_schema()
    schema["title"] = "ValidationProblem"
    schema["properties"] = {
        **schema["properties"],
        "errors": {
            "type": "array",
            "items": entry,
            "description": "Each invalid parameter or body field (input validation).",
        },
        "violation": {
            "type": "string",
            "description": "The kind of database constraint broken: not_null, check, too_long...",
        },
        "fields": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The columns of the broken constraint, when the database names them.",
        },
        "constraint": {"type": "string", "description": "The constraint's name."},
        "max_lengths": {
            "type": "object",
            "additionalProperties": {"type": "integer"},
            "description": "The longest value each named column holds (too_long).",
        },
    }
    return schema
