"""Drawing one form field as accessible HTML.

Threat: every value drawn here may come from the client (a re-rendered form shows what was
submitted). Each value and attribute is escaped by markupsafe, and attribute *names* are
checked against the HTML name grammar, so neither ``"><script>`` in a value nor a hostile
key in ``attrs`` can break out of the tag.

Accessibility: every control has a ``<label for>`` (or a ``<legend>`` for a group of radios
or checkboxes); errors and help text are tied to the control with ``aria-describedby`` and an
invalid control says so with ``aria-invalid="true"``.
"""

from __future__ import annotations

import datetime
import enum
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from pydantic import SecretStr

if TYPE_CHECKING:
    from prow.forms._form import BoundField

__all__ = [
    "attributes",
    "html_name",
    "render_control",
    "render_errors",
    "render_field",
    "render_label",
    "value_text",
]

_ATTR_NAME = re.compile(r"^[A-Za-z_:][-A-Za-z0-9_:.]*$")
_INPUT_TYPES = {"text", "email", "url", "password", "number", "date", "datetime-local", "time"}
_INPUT_TYPES |= {"file", "hidden", "search", "tel", "color"}


def attributes(attrs: Mapping[str, Any]) -> Markup:
    """`` name="value"`` pairs: ``True`` gives a bare attribute, ``False``/``None`` none."""
    parts = []
    for name, value in attrs.items():
        if not _ATTR_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid HTML attribute name")
        if value is None or value is False:
            continue
        if value is True:
            parts.append(Markup(" {}").format(name))
        else:
            parts.append(Markup(' {}="{}"').format(name, _plain(value)))
    return Markup("").join(parts)


def html_name(key: str) -> str:
    """A keyword argument's name as an HTML attribute's: ``class_`` → ``class``.

    Trailing underscores go (they let Python keywords be passed); the other underscores
    become hyphens (``data_x`` → ``data-x``, ``aria_label`` → ``aria-label``). A name
    written with hyphens (``**{"hx-get": ...}``) stays as it is.
    """
    return key.rstrip("_").replace("_", "-")


def value_text(value: Any) -> str:
    """A Python value as an HTML input shows it (dates in the formats inputs expect)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        # datetime-local takes no offset; show the wall-clock time the value holds.
        return value.replace(tzinfo=None).isoformat(timespec="minutes")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, SecretStr):
        return ""
    return str(value)


def _plain(value: Any) -> str:
    # Numbers from JSON Schema limits: 10.0 reads better as 10 in an attribute.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_field(field: BoundField, widget: str | None = None, **attrs: Any) -> Markup:
    """Label, control, help text and errors of ``field``, wrapped in a ``<div>``."""
    widget = widget or field.widget
    classes = f"field field-{widget}" + (" field-invalid" if field.errors else "")
    if widget in ("radio", "checkboxes"):
        inner = _group(field, widget, attrs)
    elif widget == "checkbox":
        inner = render_control(field, widget, **attrs) + render_label(field)
    else:
        inner = render_label(field) + render_control(field, widget, **attrs)
    help_text = _help(field)
    return Markup('<div class="{}">{}{}{}</div>').format(
        classes, inner, help_text, render_errors(field)
    )


def render_label(field: BoundField, text: str | None = None) -> Markup:
    """``<label for=…>`` with the field's label (or ``text``)."""
    return Markup('<label for="{}">{}</label>').format(field.id, text or field.label)


def render_errors(field: BoundField) -> Markup:
    """The field's error messages, with the id ``aria-describedby`` points to (or nothing)."""
    if not field.errors:
        return Markup("")
    items = Markup("").join(Markup("<li>{}</li>").format(e) for e in field.errors)
    return Markup('<ul class="field-errors" id="{}">{}</ul>').format(field.error_id, items)


def _help(field: BoundField) -> Markup:
    if not field.help:
        return Markup("")
    return Markup('<p class="field-help" id="{}">{}</p>').format(field.help_id, field.help)


def _common(field: BoundField, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes every control of ``field`` carries: name, limits, ARIA, then ``extra``."""
    described = [i for i, on in ((field.help_id, field.help), (field.error_id, field.errors)) if on]
    attrs: dict[str, Any] = {"name": field.key, **field.spec.attrs}
    if field.errors:
        attrs["aria-invalid"] = "true"
    if described:
        attrs["aria-describedby"] = " ".join(described)
    attrs.update({html_name(k): v for k, v in extra.items()})
    return attrs


def render_control(field: BoundField, widget: str | None = None, **extra: Any) -> Markup:
    """The ``<input>``, ``<select>`` or ``<textarea>`` of ``field`` alone."""
    widget = widget or field.widget
    attrs = {"id": field.id, **_common(field, extra)}
    if widget == "textarea":
        attrs["required"] = field.required
        return Markup("<textarea{}>{}</textarea>").format(attributes(attrs), field.text)
    if widget == "select":
        return _select(field, attrs)
    if widget == "datalist":
        return _datalist(field, attrs)
    if widget == "checkbox":
        attrs.setdefault("value", "true")
        checked = field.checked
        return Markup('<input type="checkbox"{}{}>').format(
            attributes(attrs), Markup(" checked") if checked else ""
        )
    if widget in ("radio", "checkboxes"):
        return _group(field, widget, extra)
    kind = widget if widget in _INPUT_TYPES else "text"
    attrs["required"] = field.required
    if kind == "file":
        attrs["multiple"] = field.spec.multiple
    elif kind != "password":  # a password is never sent back to the browser
        attrs["value"] = field.text
    return Markup('<input type="{}"{}>').format(kind, attributes(attrs))


def _select(field: BoundField, attrs: dict[str, Any]) -> Markup:
    multiple = field.spec.multiple
    attrs["multiple"] = multiple
    attrs["required"] = field.required and not multiple
    if multiple:
        attrs["name"] = field.key
    chosen = set(field.texts)
    options = []
    if not multiple:
        # An empty first option: nothing is pre-selected by accident, and "required" works.
        options.append(Markup('<option value="">—</option>'))
    for value, label in field.spec.choices:
        selected = Markup(" selected") if value in chosen else ""
        options.append(Markup('<option value="{}"{}>{}</option>').format(value, selected, label))
    return Markup("<select{}>{}</select>").format(attributes(attrs), Markup("").join(options))


def _datalist(field: BoundField, attrs: dict[str, Any]) -> Markup:
    """A text input whose choices the browser searches as one types (no script needed)."""
    attrs.update(required=field.required, value=field.text, list=f"{field.id}_choices")
    attrs.setdefault("autocomplete", "off")
    options = [
        Markup('<option value="{}">{}</option>').format(value, label)
        for value, label in field.spec.choices
    ]
    return Markup('<input type="text"{}><datalist id="{}">{}</datalist>').format(
        attributes(attrs), attrs["list"], Markup("").join(options)
    )


def _group(field: BoundField, widget: str, extra: Mapping[str, Any]) -> Markup:
    """Radios (one choice) or checkboxes (several) in a ``<fieldset>`` with a ``<legend>``."""
    kind = "radio" if widget == "radio" else "checkbox"
    chosen = set(field.texts)
    common = _common(field, extra)
    boxes = []
    for index, (value, label) in enumerate(field.spec.choices):
        attrs = {
            "id": f"{field.id}_{index}",
            **common,
            "value": value,
            "checked": value in chosen,
            # One required radio makes the group required; checkboxes cannot say "at least one".
            "required": kind == "radio" and field.required,
        }
        boxes.append(
            Markup('<label for="{}"><input type="{}"{}> {}</label>').format(
                attrs["id"], kind, attributes(attrs), label
            )
        )
    return Markup('<fieldset id="{}"><legend>{}</legend>{}</fieldset>').format(
        field.id, field.label, Markup("").join(boxes)
    )
