"""Add and change forms: the model's ``schema_for`` validates them, as it does the API's bodies.

The form is ``schema_for(Model, mode="create")`` less the read-only and excluded fields (and,
on a change form, the primary key): the same types, lengths, CHECK-constraint bounds and
refusals as a ``Resource``. What only the database knows (a unique value already taken, a
foreign key to nothing) comes back from the flush as the API's 409/422 would, and is shown
next to the field it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pydantic
from sqlalchemy import CheckConstraint, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import ColumnProperty

from prow.admin._options import label_for, name_of
from prow.db import InvalidValue, integrity_error_answer, parse_integrity_error, schema_for
from prow.db._schemas import is_read_only, is_sensitive
from prow.forms import ModelForm, bind_form, blank_form

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from prow.admin._options import ModelAdmin

__all__ = ["AdminForm", "ForeignKeyField", "FormError"]


class _FormError(Exception):
    """Raised inside a save when a value was refused while being set (already on the form)."""


FormError = _FormError


class ForeignKeyField:
    """A foreign-key column of the form: a ``<select>``, or a search box for large tables."""

    def __init__(self, name: str, related: Any, related_admin: ModelAdmin | None) -> None:
        self.name = name
        self.related = related
        self.related_admin = related_admin
        self.choices: list[tuple[Any, str]] | None = None  # None: too many rows to list


class AdminForm:
    """The form schema of one ``ModelAdmin`` for adding (``change=False``) or changing."""

    def __init__(self, model_admin: ModelAdmin, *, change: bool) -> None:
        self.model_admin = model_admin
        self.change = change
        mapper = model_admin.mapper
        editable = [
            prop.key
            for prop in mapper.column_attrs
            if not is_sensitive(prop) and not is_read_only(prop)
        ]
        wanted = list(model_admin.fields) if model_admin.fields is not None else editable
        leave_out = set(model_admin.readonly_fields) | set(model_admin.exclude)
        if change:
            leave_out.add(model_admin.pk_name)
        names = [name for name in wanted if name not in leave_out]
        self.many = _many_to_many(model_admin, names if model_admin.fields is not None else None)
        names = [name for name in names if name not in self.many]
        extra = [name for name in names if name not in editable]  # fields= naming a flag
        all_names = [prop.key for prop in mapper.attrs]
        exclude = [name for name in all_names if name not in names]
        kind = "Change" if change else "Add"
        self.schema: type[pydantic.BaseModel] = schema_for(
            model_admin.model,
            mode="create",
            include=names if extra else None,
            exclude=None if extra else exclude,
            name=f"{model_admin.model.__name__}Admin{kind}",
        )
        self.names = [name for name in self.schema.model_fields]
        self.foreign_keys = {
            name: ForeignKeyField(name, related, model_admin.site.admin_for(related))
            for name in self.names
            if (related := _related_model(model_admin, name)) is not None
        }
        self.choices: dict[str, list[tuple[Any, str]]] = {}
        self.nullable = {
            name
            for name in self.names
            if isinstance(prop := mapper.attrs.get(name), ColumnProperty)
            and prop.columns[0].nullable
        }

    async def many_fields(
        self, session: AsyncSession, obj: Any, submitted: Any = None
    ) -> list[ManyField]:
        """The many-to-many fields: every related row, and which are chosen."""
        out = []
        for name, rel in self.many.items():
            related = rel.mapper.class_
            pk = _pk_attr(related)
            rows = (await session.scalars(select(related).order_by(pk).limit(1000))).all()
            related_admin = self.model_admin.site.admin_for(related)
            label = related_admin.object_repr if related_admin else name_of
            options = [(str(getattr(row, pk.key)), label(row)) for row in rows]
            if submitted is not None:
                chosen = {str(v) for v in submitted.getlist(name)}
            elif obj is not None:
                current = await getattr(obj.awaitable_attrs, name)
                chosen = {str(getattr(row, pk.key)) for row in current}
            else:
                chosen = set()
            out.append(ManyField(name, label_for(name), options, chosen))
        return out

    async def many_values(self, session: AsyncSession, request: Any) -> dict[str, list[Any]]:
        """The related rows each many-to-many field names (unknown keys are left out)."""
        submitted = await request.form()
        out: dict[str, list[Any]] = {}
        for name, rel in self.many.items():
            related = rel.mapper.class_
            pk = _pk_attr(related)
            try:
                keys = [pk.type.python_type(v) for v in submitted.getlist(name)]
            except (TypeError, ValueError):
                keys = []
            rows = (
                (await session.scalars(select(related).where(pk.in_(keys)))).all() if keys else []
            )
            out[name] = list(rows)
        return out

    async def load_choices(self, session: AsyncSession) -> dict[str, list[tuple[Any, str]]]:
        """Each small related table's rows, for the foreign keys' ``<select>``."""
        out: dict[str, list[tuple[Any, str]]] = {}
        limit = self.model_admin.autocomplete_limit
        for name, fk in self.foreign_keys.items():
            pk = _pk_attr(fk.related)
            counted = select(pk).limit(limit + 1).subquery()
            if (await session.scalar(select(func.count()).select_from(counted)) or 0) > limit:
                continue
            rows = (await session.scalars(select(fk.related).order_by(pk))).all()
            label = fk.related_admin.object_repr if fk.related_admin else name_of
            choices = [(getattr(row, pk.key), label(row)) for row in rows]
            if name in self.nullable:
                choices.insert(0, ("", "—"))
            out[name] = choices
        self.choices = out
        return out

    def blank(self, request: Any, initial: Any, choices: dict[str, Any]) -> ModelForm[Any]:
        return blank_form(self.schema, request, initial=initial, choices=choices or None)

    async def bind(self, request: Any, choices: dict[str, Any]) -> ModelForm[Any]:
        return await bind_form(self.schema, request, choices=choices or None)

    async def values(self, request: Any, form: ModelForm[Any]) -> dict[str, Any]:
        """The fields to write: what was given, plus ``None`` for emptied nullable fields."""
        data: dict[str, Any] = form.data.model_dump(exclude_unset=True)
        submitted = await request.form()
        for name in self.nullable:
            if name not in data and submitted.get(name) == "":
                data[name] = None
        return data

    async def save(self, session: AsyncSession, form: ModelForm[Any], obj: Any, write: Any) -> bool:
        """Flush ``write()`` in a savepoint; a database refusal becomes the form's errors."""
        try:
            async with session.begin_nested():
                await write()
                await session.flush()
        except IntegrityError as exc:
            violation = parse_integrity_error(exc)
            fields = violation.fields or _check_columns(self.model_admin, violation.constraint)
            _database_errors(form, integrity_error_answer(exc), fields)
        except InvalidValue as exc:
            _database_errors(form, None, exc.fields, exc.problem)
        except FormError:
            pass  # the form holds the errors already
        else:
            return True
        # The savepoint's rollback expired the row: read it again for the page drawn next.
        if obj in session and inspect(obj).persistent:
            await session.refresh(obj)
        return False


def _database_errors(
    form: ModelForm[Any], answer: Any, fields: Iterable[str], problem: str | None = None
) -> None:
    message = problem or (getattr(answer, "detail", None) or "The database refused this value.")
    named = [name for name in fields if name in form.model.model_fields]
    if not named:
        form.add_error(None, str(message))
    for name in named:
        form.add_error(name, str(message))


class ManyField:
    """A many-to-many relationship drawn as a ``<select multiple>``."""

    def __init__(self, name: str, label: str, options: list[tuple[str, str]], chosen: set[str]):
        self.name = name
        self.label = label
        self.options = options
        self.chosen = chosen
        self.id = f"id_{name}"


def _many_to_many(model_admin: ModelAdmin, named: list[str] | None) -> dict[str, Any]:
    """The many-to-many relationships the form edits: those ``fields`` names, else the
    ones neither sensitive nor read-only."""
    out = {}
    for rel in model_admin.mapper.relationships:
        if rel.secondary is None or not rel.uselist or is_sensitive(rel):
            continue
        if named is not None:
            if rel.key in named:
                out[rel.key] = rel
        elif not is_read_only(rel) and rel.key not in model_admin.exclude:
            out[rel.key] = rel
    return out


def _check_columns(model_admin: ModelAdmin, constraint: str | None) -> list[str]:
    """The columns a CHECK constraint names (the database reports only the constraint)."""
    if not constraint:
        return []
    table: Any = model_admin.mapper.local_table
    for found in getattr(table, "constraints", ()):
        names = {str(found.name), f"ck_{table.name}_{found.name}"}  # the naming convention's
        if isinstance(found, CheckConstraint) and constraint in names:
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", str(found.sqltext)))
            return [column.key for column in table.columns if column.name in words]
    return []


def _related_model(model_admin: ModelAdmin, name: str) -> Any:
    prop = model_admin.mapper.attrs.get(name)
    if not isinstance(prop, ColumnProperty) or not prop.columns[0].foreign_keys:
        return None
    column = prop.columns[0]
    for rel in model_admin.mapper.relationships:
        if column in rel.local_columns and not rel.uselist:
            return rel.mapper.class_
    target = next(iter(column.foreign_keys)).column.table
    for mapper in model_admin.mapper.registry.mappers:
        if mapper.local_table is target:
            return mapper.class_
    return None


def _pk_attr(model: Any) -> Any:
    mapper = inspect(model)
    return getattr(model, mapper.get_property_by_column(mapper.primary_key[0]).key)
