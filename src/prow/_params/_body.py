"""Request bodies: JSON (one model, or several parameters embedded by name) and forms."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from pydantic_core import ValidationError

from prow._csrf import CSRF_FIELD
from prow._exceptions import HTTPError
from prow._formdata import FORM_MEDIA_TYPES
from prow._params._errors import error_entries, missing
from prow._params._markers import REQUIRED, Body
from prow._params._plan import ParamPlan
from prow._params._types_util import is_model_like, is_sequence, split_annotated, unwrap_optional
from prow._request import json_error_detail

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter

    from prow._formdata import FormData
    from prow._request import Request

__all__ = ["BodyPlan", "build_body_plan"]


@dataclasses.dataclass(eq=False, slots=True)
class BodyPlan:
    """How a route reads its body: the parameters it fills and the schema that validates them."""

    kind: str  # "json" or "form"
    params: list[ParamPlan]
    embed: bool
    required: bool
    media_type: str
    schema: Any  # the annotation or generated model OpenAPI documents
    adapter: TypeAdapter[Any]
    whole_form_model: bool = False

    async def extract(self, request: Request, errors: list[dict[str, Any]]) -> dict[ParamPlan, Any]:
        if self.kind == "json":
            return await self._extract_json(request, errors)
        return await self._extract_form(request, errors)

    async def _extract_json(
        self, request: Request, errors: list[dict[str, Any]]
    ) -> dict[ParamPlan, Any]:
        raw = await request.body()
        if not raw:
            return self._absent(errors)
        content_type = request.content_type
        if (
            content_type
            and content_type != "application/json"
            and not content_type.endswith("+json")
        ):
            raise HTTPError(
                415,
                f"Expected a JSON body (Content-Type: application/json), got {content_type!r}",
            )
        try:
            value = self.adapter.validator.validate_json(raw)
        except ValidationError as exc:
            _raise_if_malformed(exc)
            errors.extend(error_entries(exc, ["body"]))
            return {}
        return self._spread(value)

    def _absent(self, errors: list[dict[str, Any]]) -> dict[ParamPlan, Any]:
        if self.required:
            errors.append(missing(["body"]))
            return {}
        return {param: param.default_value() for param in self.params}

    def _spread(self, value: Any) -> dict[ParamPlan, Any]:
        if not self.embed:
            return {self.params[0]: value}
        return {param: getattr(value, param.name) for param in self.params}

    async def _extract_form(
        self, request: Request, errors: list[dict[str, Any]]
    ) -> dict[ParamPlan, Any]:
        content_type = request.content_type
        if content_type not in FORM_MEDIA_TYPES:
            if not content_type and not self.required:
                return {param: param.default_value() for param in self.params}
            raise HTTPError(
                415,
                f"Expected a form body ({' or '.join(FORM_MEDIA_TYPES)}), "
                f"got {content_type or 'no Content-Type'!r}",
            )
        form = await request.form()
        data = await self._form_values(form)
        try:
            value = self.adapter.validate_python(data)
        except ValidationError as exc:
            errors.extend(error_entries(exc, ["body"]))
            return {}
        if self.whole_form_model:
            return {self.params[0]: value}
        return {param: getattr(value, param.name) for param in self.params}

    async def _form_values(self, form: FormData) -> dict[str, Any]:
        if self.whole_form_model:
            return _whole_form(form, self.schema)
        data: dict[str, Any] = {}
        for param in self.params:
            values = form.getlist(param.alias)
            if not values:
                continue
            if param.source == "file" and _wants_bytes(param):
                values = [await _read(v) for v in values]
            data[param.alias] = values if param.sequence else values[-1]
        return data


def _raise_if_malformed(exc: ValidationError) -> None:
    for error in exc.errors(include_url=False):
        if error["type"] == "json_invalid":
            reason = error.get("ctx", {}).get("error", "malformed JSON")
            raise HTTPError(400, json_error_detail(reason)) from None


async def _read(value: Any) -> Any:
    from prow._formdata import UploadFile

    return await value.read() if isinstance(value, UploadFile) else value


def _wants_bytes(param: ParamPlan) -> bool:
    base = unwrap_optional(split_annotated(param.annotation)[0])
    if param.sequence:
        from typing import get_args

        args = get_args(base)
        base = unwrap_optional(args[0]) if args else base
    return base is bytes


def _whole_form(form: FormData, model: Any) -> dict[str, Any]:
    fields = getattr(model, "model_fields", {})
    sequences = {
        (info.alias or name) for name, info in fields.items() if is_sequence(info.annotation)
    }
    declared = {(info.alias or name) for name, info in fields.items()}
    data: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD and key not in declared:
            continue  # the CSRF check's field, not the model's (extra="forbid" would refuse it)
        values = form.getlist(key)
        data[key] = values if key in sequences else values[-1]
    return data


def build_body_plan(params: list[ParamPlan], owner: str) -> BodyPlan | None:
    """Combine every body parameter of a route (handler and dependencies) into one plan."""
    if not params:
        return None
    kinds = {"form" if p.source in ("form", "file") else "json" for p in params}
    if len(kinds) > 1:
        from prow._exceptions import ConfigurationError

        names = ", ".join(p.name for p in params)
        raise ConfigurationError(
            "prow.E006",
            f"{owner} mixes JSON body and form parameters ({names}); a request has one body, "
            "so use either Body() parameters or Form()/File() parameters.",
        )
    if kinds == {"form"}:
        return _form_plan(params, owner)
    return _json_plan(params, owner)


def _json_plan(params: list[ParamPlan], owner: str) -> BodyPlan:
    from pydantic import TypeAdapter

    first = params[0]
    embed = len(params) > 1 or (isinstance(first.marker, Body) and first.marker.embed)
    media_type = first.marker.media_type if isinstance(first.marker, Body) else "application/json"
    if not embed:
        target = _constrained(first)
        return BodyPlan(
            "json", params, False, first.required, media_type, target, TypeAdapter(target)
        )
    model = _model_for(params, owner)
    required = any(p.required for p in params)
    return BodyPlan("json", params, True, required, media_type, model, TypeAdapter(model))


def _form_plan(params: list[ParamPlan], owner: str) -> BodyPlan:
    from pydantic import TypeAdapter

    has_file = any(p.source == "file" for p in params)
    media_type = "multipart/form-data" if has_file else "application/x-www-form-urlencoded"
    first = params[0]
    base = unwrap_optional(split_annotated(first.annotation)[0])
    if len(params) == 1 and first.source == "form" and is_model_like(base):
        adapter: TypeAdapter[Any] = TypeAdapter(base)
        return BodyPlan("form", params, False, first.required, media_type, base, adapter, True)
    model = _model_for(params, owner)
    required = any(p.required for p in params)
    return BodyPlan("form", params, True, required, media_type, model, TypeAdapter(model))


def _constrained(param: ParamPlan) -> Any:
    from typing import Annotated

    from pydantic import Field

    marker = param.marker
    if not marker.constraints and not marker.description and not marker.examples:
        return param.annotation
    info = Field(description=marker.description, examples=marker.examples, **marker.constraints)
    return Annotated[param.annotation, info]


def _model_for(params: list[ParamPlan], owner: str) -> type[BaseModel]:
    from pydantic import Field, create_model

    fields: dict[str, Any] = {}
    for param in params:
        marker = param.marker
        options: dict[str, Any] = {
            "alias": param.alias,
            "title": marker.title,
            "description": marker.description,
            "examples": marker.examples,
            **marker.constraints,
        }
        if marker.default_factory is not None:
            info = Field(default_factory=marker.default_factory, **options)
        else:
            info = Field(... if marker.default is REQUIRED else marker.default, **options)
        fields[param.name] = (param.annotation, info)
    name = "Body_" + "".join(c if c.isalnum() else "_" for c in owner)
    model: type[BaseModel] = create_model(name, **fields)
    return model
