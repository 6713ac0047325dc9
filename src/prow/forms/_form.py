"""``ModelForm``: a pydantic model read from an HTML form, ready to be drawn again with errors.

A bound form holds what the browser sent (as text, to show it again), the validated model
when it passed, and the errors in the same shape as a 422 answer to a JSON body.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from prow._exceptions import ConfigurationError, RequestValidationError
from prow._formdata import UploadFile
from prow._params._errors import error_entries
from prow.forms._csrf import csrf_input
from prow.forms._spec import FieldSpec, Widget, field_specs
from prow.forms._widgets import (
    attributes,
    html_name,
    render_control,
    render_errors,
    render_field,
    render_label,
    value_text,
)

if TYPE_CHECKING:
    from prow._datastructures import MultiDict
    from prow._request import Request

__all__ = ["BoundField", "ModelForm", "bind_form", "blank_form"]

M = TypeVar("M", bound=BaseModel)
Raw = str | list[str] | None
#: A run-time choice: ``(value, label)``.
Choice = tuple[Any, str]

_specs: dict[type[Any], tuple[FieldSpec, ...]] = {}


def _specs_for(model: type[Any]) -> tuple[FieldSpec, ...]:
    # A pure function of the (immutable) model class: caching shares no request state.
    found = _specs.get(model)
    if found is None:
        found = _specs[model] = field_specs(model)
    return found


async def bind_form(
    model: type[M],
    request: Request,
    *,
    widgets: Mapping[str, Widget | str] | None = None,
    choices: Mapping[str, Iterable[Choice]] | None = None,
) -> ModelForm[M]:
    """Read ``model`` from the request's form (the query string for GET) and validate it.

    Never raises for bad input: check ``form.is_valid``, then use ``form.data``, or draw
    the form again with its errors. A body that is not a form at all still answers 415.
    """
    specs = _specs_for(model)
    if request.method in ("GET", "HEAD"):
        source: MultiDict[Any] = request.query_params
    else:
        source = await request.form()
    raw = {spec.name: _raw(spec, source) for spec in specs}
    data = {spec.key: value for spec in specs if (value := _input(spec, source)) is not _ABSENT}
    try:
        valid: M | None = model.model_validate(data)
        entries: list[dict[str, Any]] = []
    except ValidationError as exc:
        valid, entries = None, error_entries(exc, ["body"])
    return ModelForm(
        model, request, raw=raw, data=valid, entries=entries, widgets=widgets, choices=choices
    )


def blank_form(
    model: type[M],
    request: Request | None = None,
    *,
    initial: Mapping[str, Any] | object | None = None,
    widgets: Mapping[str, Widget | str] | None = None,
    choices: Mapping[str, Iterable[Choice]] | None = None,
) -> ModelForm[M]:
    """An unsubmitted form showing the model's defaults, or ``initial`` (a mapping or object).

    Pass ``request`` so that ``form.render()`` includes the CSRF token. ``choices`` gives
    a field its options at run time (rows from the database): ``{"category_id": [(1,
    "Tools"), ...]}``; validation stays the model's, so check the choice in the handler.
    """
    specs = _specs_for(model)
    raw = {spec.name: _initial_text(spec, _initial_value(spec, initial)) for spec in specs}
    return ModelForm(model, request, raw=raw, widgets=widgets, choices=choices, bound=False)


_ABSENT: Any = object()


def _input(spec: FieldSpec, source: MultiDict[Any]) -> Any:
    """The value to validate for ``spec``, or ``_ABSENT`` to let the model's default apply."""
    values = source.getlist(spec.key)
    if spec.is_file:
        # A file input left empty still sends a part, with an empty file name.
        values = [v for v in values if isinstance(v, UploadFile) and v.filename]
    elif spec.is_checkbox:
        # An unchecked box sends nothing at all: that is the answer "no".
        return values[-1] if values else False
    else:
        # An empty text box means "not given", as Django reads it: a required field then
        # says "Field required" and an optional one takes its default.
        values = [v for v in values if not (isinstance(v, str) and v == "")]
    if not values:
        return _ABSENT
    return values if spec.multiple else values[-1]


def _raw(spec: FieldSpec, source: MultiDict[Any]) -> Raw:
    """What was submitted for ``spec``, as text to show again (files cannot be shown)."""
    if spec.is_file or spec.widget == "password":
        return None
    texts = [v for v in source.getlist(spec.key) if isinstance(v, str)]
    if spec.multiple:
        return texts
    return texts[-1] if texts else None


def _initial_value(spec: FieldSpec, initial: Mapping[str, Any] | object | None) -> Any:
    if initial is None:
        return spec.default
    if isinstance(initial, Mapping):
        return initial.get(spec.name, spec.default)
    return getattr(initial, spec.name, spec.default)


def _initial_text(spec: FieldSpec, value: Any) -> Raw:
    if spec.is_file or spec.widget == "password" or value is None:
        return [] if spec.multiple else None
    if spec.multiple and isinstance(value, list | tuple | set | frozenset):
        return [value_text(v) for v in value]
    return value_text(value)


class ModelForm(Generic[M]):
    """A form for the pydantic model ``M``: what was sent, what it is worth, what is wrong.

    Draw it whole with ``{{ form }}`` (or ``form.render(...)``), field by field with
    ``{{ form.name }}`` / ``{{ form["name"] }}``, or in your own markup from each field's
    ``value``, ``errors``, ``id`` and ``label``. A field named like an attribute of the form
    (``data``, ``errors``, ``values``, ``fields``...) is reached as ``form["data"]``.
    """

    def __init__(
        self,
        model: type[M],
        request: Request | None = None,
        *,
        raw: Mapping[str, Raw],
        data: M | None = None,
        entries: list[dict[str, Any]] | None = None,
        widgets: Mapping[str, Widget | str] | None = None,
        choices: Mapping[str, Iterable[Choice]] | None = None,
        bound: bool = True,
    ) -> None:
        self.model = model
        self.request = request
        self.is_bound = bound
        self.values: dict[str, Raw] = dict(raw)
        #: The error entries, shaped as in a 422 problem document (``loc``, ``msg``, ``type``).
        self.error_entries: list[dict[str, Any]] = entries or []
        self._data = data
        specs = _customise(_specs_for(model), widgets or {}, choices or {})
        self.errors, self.non_field_errors = _group_errors(specs, self.error_entries)
        self.fields = tuple(BoundField(self, spec) for spec in specs)
        self._by_name = {f.name: f for f in self.fields}

    @property
    def is_valid(self) -> bool:
        """True once submitted data passed validation."""
        return self.is_bound and self._data is not None

    @property
    def data(self) -> M:
        """The validated model; only valid forms have one."""
        if self._data is None:
            raise RuntimeError("form.data exists only when form.is_valid is True")
        return self._data

    @property
    def enctype(self) -> str:
        """The ``<form enctype>`` this form needs: multipart as soon as it has a file field."""
        if any(f.spec.is_file for f in self.fields):
            return "multipart/form-data"
        return "application/x-www-form-urlencoded"

    def validation_error(self) -> RequestValidationError:
        """The 422 error a JSON body with these mistakes would have raised."""
        return RequestValidationError(self.error_entries)

    def add_error(self, field: str | None, message: str) -> None:
        """Record a mistake found after validation (``None``: about the whole form)."""
        if field is None:
            self.non_field_errors.append(message)
        else:
            self[field].errors.append(message)
            self.errors.setdefault(field, self[field].errors)
        key = self[field].key if field else None
        loc = ["body", key] if key else ["body"]
        self.error_entries.append({"loc": loc, "msg": message, "type": "value_error"})
        self._data = None

    def __iter__(self) -> Iterator[BoundField]:
        return iter(self.fields)

    def __getitem__(self, name: str) -> BoundField:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise KeyError(
                f"{self.model.__name__} has no field {name!r}; fields: {known}"
            ) from None

    def __getattr__(self, name: str) -> BoundField:
        # ``{{ form.title }}`` in templates; real attributes are found before this runs.
        if name.startswith("_") or "_by_name" not in self.__dict__:
            raise AttributeError(name)
        try:
            return self._by_name[name]
        except KeyError:
            raise AttributeError(name) from None

    def render_fields(self) -> Markup:
        """Every field, drawn in order, with the errors about the whole form first."""
        top = Markup("")
        if self.non_field_errors:
            items = Markup("").join(Markup("<li>{}</li>").format(m) for m in self.non_field_errors)
            top = Markup('<ul class="form-errors" role="alert">{}</ul>').format(items)
        return top + Markup("").join(f.render() for f in self.fields)

    def render(
        self, action: str = "", *, method: str = "post", submit: str = "Submit", **attrs: Any
    ) -> Markup:
        """The whole ``<form>``: CSRF token, every field and a submit button."""
        # An empty action attribute is invalid HTML; leaving it out posts to the same URL.
        form_attrs: dict[str, Any] = {"action": action or None, "method": method}
        if method.lower() != "get":
            form_attrs["enctype"] = self.enctype
        form_attrs.update({html_name(k): v for k, v in attrs.items()})
        token = Markup("")
        if self.request is not None and method.lower() != "get":
            token = csrf_input(self.request)
        return Markup('<form{}>{}{}<button type="submit">{}</button></form>').format(
            attributes(form_attrs), token, self.render_fields(), submit
        )

    def __html__(self) -> str:
        return str(self.render())

    __str__ = __html__


def _customise(
    specs: tuple[FieldSpec, ...],
    widgets: Mapping[str, Widget | str],
    choices: Mapping[str, Iterable[Choice]],
) -> tuple[FieldSpec, ...]:
    """The specs with the widgets and run-time choices a form was given."""
    if not widgets and not choices:
        return specs
    names = [s.name for s in specs]
    for option, given in (("widgets", widgets), ("choices", choices)):
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise ConfigurationError(
                "prow.E192", f"{option} names {unknown}, which the form lacks; fields: {names}"
            )
    return tuple(
        _customise_one(spec, widgets.get(spec.name), choices.get(spec.name)) for spec in specs
    )


def _customise_one(
    spec: FieldSpec, widget: Widget | str | None, options: Iterable[Choice] | None
) -> FieldSpec:
    if options is not None:
        texts = tuple((value_text(value), str(label)) for value, label in options)
        if spec.widget in ("select", "radio", "checkboxes"):
            spec = dataclasses.replace(spec, choices=texts)
        else:  # limits such as min/max/step of the old input mean nothing on a select
            spec = dataclasses.replace(spec, choices=texts, widget="select", attrs={})
    if widget is not None:
        spec = spec.with_widget(Widget(widget) if isinstance(widget, str) else widget)
    return spec


def _group_errors(
    specs: tuple[FieldSpec, ...], entries: list[dict[str, Any]]
) -> tuple[dict[str, list[str]], list[str]]:
    by_key = {s.key: s.name for s in specs}
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for entry in entries:
        loc = entry["loc"]
        message = _message(entry["msg"])
        name = by_key.get(loc[1]) if len(loc) > 1 else None
        if name is None:
            general.append(message)
        else:
            errors.setdefault(name, []).append(message)
    return errors, general


def _message(text: str) -> str:
    # pydantic prefixes a validator's own ValueError text; the user only needs the text.
    for prefix in ("Value error, ", "Assertion failed, "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


class BoundField:
    """One field of a form: its spec, what to show in it, and its errors."""

    def __init__(self, form: ModelForm[Any], spec: FieldSpec) -> None:
        self.form = form
        self.spec = spec
        self.errors: list[str] = form.errors.get(spec.name, [])

    @property
    def name(self) -> str:
        """The model's attribute name."""
        return self.spec.name

    @property
    def key(self) -> str:
        """The form key, the ``name=`` of the HTML control (the field's alias, if any)."""
        return self.spec.key

    @property
    def label(self) -> str:
        """The label text: the field's title, or its name made readable."""
        return self.spec.label

    @property
    def help(self) -> str | None:
        """The help text: the field's description."""
        return self.spec.help

    @property
    def widget(self) -> str:
        """How the field is drawn (one of ``prow.forms.WIDGETS``)."""
        return self.spec.widget

    @property
    def required(self) -> bool:
        return self.spec.required

    @property
    def choices(self) -> tuple[tuple[str, str], ...]:
        """``(value, label)`` pairs of a choice field."""
        return self.spec.choices

    @property
    def id(self) -> str:
        """The control's HTML id."""
        return f"id_{self.spec.key}"

    @property
    def error_id(self) -> str:
        """The id of the error list, which ``aria-describedby`` names."""
        return f"{self.id}-errors"

    @property
    def help_id(self) -> str:
        return f"{self.id}-help"

    @property
    def value(self) -> Raw:
        """What the input shows: the submitted text, or the initial value as text."""
        return self.form.values.get(self.spec.name)

    @property
    def text(self) -> str:
        """The value for a single-valued input (``""`` when empty)."""
        value = self.value
        if isinstance(value, list):
            return value[-1] if value else ""
        return value or ""

    @property
    def texts(self) -> list[str]:
        """The values for a multiple choice (a one-item list for a single choice)."""
        value = self.value
        if isinstance(value, list):
            return value
        return [] if value is None else [value]

    @property
    def checked(self) -> bool:
        """For a checkbox: whether it shows ticked."""
        return self.text.lower() in ("true", "on", "1", "yes", "y", "t")

    def render(self, widget: str | None = None, **attrs: Any) -> Markup:
        """Label, control, help and errors; ``attrs`` are added to the control."""
        return render_field(self, widget, **attrs)

    __call__ = render

    def control(self, widget: str | None = None, **attrs: Any) -> Markup:
        """The control alone, for your own markup around it."""
        return render_control(self, widget, **attrs)

    def label_tag(self, text: str | None = None) -> Markup:
        """``<label for=…>`` alone."""
        return render_label(self, text)

    def errors_html(self) -> Markup:
        """The error list alone (its id is what ``aria-describedby`` names)."""
        return render_errors(self)

    def __html__(self) -> str:
        return str(self.render())

    __str__ = __html__

    def __repr__(self) -> str:
        return f"BoundField({self.spec.name!r}, value={self.value!r}, errors={self.errors!r})"
