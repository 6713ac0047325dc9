"""HTML forms from pydantic models: read, validate, and draw them again with their errors.

::

    from prow.forms import bind_form, blank_form

    @app.post("/items/new")
    async def create(request: Request) -> Response:
        form = await bind_form(ItemIn, request)
        if not form.is_valid:
            return templates.render(request, "new.html", {"form": form}, status_code=422)
        ...  # form.data is an ItemIn

Fields are drawn from the model's JSON Schema: ``str`` → text, ``EmailStr`` → email,
``int``/``float`` → number with min/max, ``bool`` → checkbox, ``date`` → date,
``datetime`` → datetime-local, ``Enum``/``Literal`` → select, ``list[Enum]`` → multiple
select, ``UploadFile`` → file. A foreign key becomes a select of the related rows with
``**await related_fields(db, Model)`` (a searchable input for large tables).
``Widget("radio")`` (in ``Annotated`` or ``widgets=``) changes how a field is drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prow._renamed import renamed_attribute
from prow.forms._csrf import csrf_input
from prow.forms._form import BoundField, ModelForm, bind_form, blank_form
from prow.forms._spec import WIDGETS, FieldSpec, Widget

if TYPE_CHECKING:
    from prow._csrf import csrf_token as csrf_token  # deprecated here: prow.csrf_token
    from prow.forms._related import RelatedFields, related_fields

# ``csrf_token`` has one home, ``prow`` (the core makes and checks the tokens).
_RENAMED = {"csrf_token": "prow.csrf_token"}


def __getattr__(name: str) -> Any:
    if name in ("related_fields", "RelatedFields"):  # needs SQLAlchemy: loaded when named
        from prow.forms import _related

        return getattr(_related, name)
    return renamed_attribute(__name__, name, _RENAMED)


__all__ = [
    "WIDGETS",
    "BoundField",
    "FieldSpec",
    "ModelForm",
    "RelatedFields",
    "Widget",
    "bind_form",
    "blank_form",
    "csrf_input",
    "related_fields",
]
