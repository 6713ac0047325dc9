"""What a form field is, worked out once per model from its JSON Schema.

The JSON Schema pydantic already produces for OpenAPI says everything an HTML input needs:
the type (``integer``, ``boolean``, ``array``), the format (``email``, ``date``,
``date-time``, ``binary`` for uploads, ``password`` for ``SecretStr``), the limits
(``minimum``, ``maxLength``...) and the choices (``enum`` for ``Enum`` and ``Literal``).
Reading the schema rather than the annotations means a ``schema_for(Model)`` form, a
constrained ``Annotated`` type and a plain model are all understood the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from prow._exceptions import ConfigurationError
from prow.forms._widgets import html_name, value_text

__all__ = ["WIDGETS", "FieldSpec", "Widget", "field_specs"]

#: Every widget name a field can be given.
WIDGETS = frozenset(
    {
        "text",
        "email",
        "url",
        "password",
        "number",
        "date",
        "datetime-local",
        "time",
        "textarea",
        "checkbox",
        "select",
        "radio",
        "checkboxes",
        "file",
        "hidden",
        "search",
        "tel",
        "color",
        "datalist",  # a text input searching the choices as one types (large related tables)
    }
)

_FORMATS = {
    "email": "email",
    "date": "date",
    "date-time": "datetime-local",
    "time": "time",
    "uri": "url",
    "password": "password",
    "binary": "file",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Widget:
    """How to draw a field: ``Annotated[str, Widget("textarea", rows=4)]``.

    ``name`` is one of :data:`WIDGETS` (``None`` keeps the one chosen from the type);
    keyword arguments become HTML attributes of the input (``class_`` gives ``class``).
    """

    name: str | None = None
    attrs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __init__(self, name: str | None = None, /, **attrs: Any) -> None:
        if name is not None and name not in WIDGETS:
            raise ConfigurationError(
                "prow.E190", f"unknown widget {name!r}; choose one of {', '.join(sorted(WIDGETS))}"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "attrs", {html_name(k): v for k, v in attrs.items()})


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One form field, as learnt from the model: its names, widget, limits and choices."""

    name: str  # the model's attribute
    key: str  # the form key sent by the browser (the field's alias, if any)
    label: str
    help: str | None
    widget: str
    required: bool
    multiple: bool  # the value is a list (repeated keys)
    choices: tuple[tuple[str, str], ...]  # (value, label)
    attrs: Mapping[str, Any]  # min/max/step/minlength/maxlength/pattern and Widget attrs
    default: Any  # the model's default, shown in a blank form (None when there is none)

    @property
    def is_file(self) -> bool:
        return self.widget == "file"

    @property
    def is_checkbox(self) -> bool:
        return self.widget == "checkbox"

    def with_widget(self, widget: Widget) -> FieldSpec:
        """This field drawn as ``widget`` instead."""
        name = widget.name or self.widget
        return dataclasses.replace(self, widget=name, attrs={**self.attrs, **widget.attrs})


def field_specs(model: type[Any]) -> tuple[FieldSpec, ...]:
    """The fields of the pydantic model ``model``, in declaration order."""
    fields = getattr(model, "model_fields", None)
    if fields is None or not hasattr(model, "model_json_schema"):
        raise ConfigurationError(
            "prow.E191",
            f"a form is a pydantic model (or prow.db.schema_for(Model)), not {model!r}",
        )
    schema = model.model_json_schema(by_alias=True)
    defs: dict[str, Any] = schema.get("$defs", {})
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    specs = []
    for name, info in fields.items():
        key = info.alias or name
        prop = properties.get(key, {})
        spec = _spec(name, key, prop, defs, key in required, info)
        widget = next((m for m in info.metadata if isinstance(m, Widget)), None)
        specs.append(spec if widget is None else spec.with_widget(widget))
    return tuple(specs)


def _resolve(prop: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The property with ``$ref`` followed and ``| None`` removed; and whether it was nullable."""
    nullable = False
    options = prop.get("anyOf")
    if options:
        real = [o for o in options if o.get("type") != "null"]
        nullable = len(real) < len(options)
        # Decimal validates from a number or a string: draw it as a number.
        numbers = [o for o in real if o.get("type") in ("integer", "number")]
        if len(real) == 1 or numbers:
            prop = {**prop, **(real[0] if len(real) == 1 else numbers[0])}
            prop.pop("anyOf", None)
    ref = prop.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        prop = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop, nullable


def _spec(
    name: str, key: str, prop: dict[str, Any], defs: dict[str, Any], required: bool, info: Any
) -> FieldSpec:
    prop, _ = _resolve(prop, defs)
    multiple = prop.get("type") == "array"
    item = _resolve(prop.get("items", {}), defs)[0] if multiple else prop
    choices = _choices(item)
    widget = _widget(item, choices, multiple)
    title = info.title or name.replace("_", " ").capitalize()
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    attrs = _limits(item, widget)
    if multiple and widget != "file":
        attrs.update(_list_limits(prop))
    return FieldSpec(
        name=name,
        key=key,
        label=title,
        help=info.description,
        widget=widget,
        required=required and widget != "checkbox",
        multiple=multiple,
        choices=choices,
        attrs=attrs,
        default=default,
    )


def _choices(item: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    if "enum" in item:
        values = item["enum"]
    elif "const" in item:
        values = [item["const"]]
    else:
        return ()
    return tuple((value_text(v), value_text(v)) for v in values if v is not None)


def _widget(item: dict[str, Any], choices: tuple[tuple[str, str], ...], multiple: bool) -> str:
    if choices:
        return "select"
    kind = item.get("type")
    if kind == "boolean" and not multiple:
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    return _FORMATS.get(item.get("format", ""), "text")


def _limits(item: dict[str, Any], widget: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if widget == "number":
        attrs["step"] = 1 if item.get("type") == "integer" else "any"
        for bound in ("minimum", "exclusiveMinimum"):
            if bound in item:
                attrs["min"] = item[bound]
        for bound in ("maximum", "exclusiveMaximum"):
            if bound in item:
                attrs["max"] = item[bound]
        if "multipleOf" in item:
            attrs["step"] = item["multipleOf"]
    elif widget in ("text", "email", "url", "password", "search", "tel", "textarea"):
        if "minLength" in item:
            attrs["minlength"] = item["minLength"]
        if "maxLength" in item:
            attrs["maxlength"] = item["maxLength"]
        # No ``pattern``: pydantic searches anywhere in the value while a browser matches
        # the whole value, so copying it would refuse input the server accepts.
    return attrs


def _list_limits(prop: dict[str, Any]) -> dict[str, Any]:
    # Browsers have no attribute for item counts; data-* attributes let scripts use them.
    attrs: dict[str, Any] = {}
    if "minItems" in prop:
        attrs["data-min-items"] = prop["minItems"]
    if "maxItems" in prop:
        attrs["data-max-items"] = prop["maxItems"]
    return attrs
