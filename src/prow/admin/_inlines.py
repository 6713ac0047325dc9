"""Inlines: child rows (order lines of an order) edited in a table on the parent's form.

Each row of the table is validated by the child model's ``schema_for(..., mode="create")``
(less its key and the foreign key to the parent), as its own form would be. Field names are
prefixed (``lines-0-product``) so that the rows and the parent's fields never collide. A
blank extra row is ignored; a ticked "delete" box removes the row.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic
from sqlalchemy import inspect, select

from prow._exceptions import ConfigurationError
from prow.admin._options import label_for
from prow.db import schema_for
from prow.db._schemas import is_read_only, is_sensitive

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from prow.admin._options import ModelAdmin

__all__ = ["InlineAdmin", "InlineForm", "TabularInline"]


class InlineAdmin:
    """Child rows edited on the parent's page: set ``model`` (and maybe ``fields``).

    ::

        class OrderLineInline(TabularInline):
            model = OrderLine
            fields = ["product", "quantity"]
            extra = 2
    """

    model: ClassVar[type[Any]]
    fields: ClassVar[Sequence[str] | None] = None
    fk_name: ClassVar[str | None] = None  # the foreign-key column to the parent
    extra: ClassVar[int] = 1
    max_rows: ClassVar[int] = 200
    can_delete: ClassVar[bool] = True
    verbose_name_plural: ClassVar[str | None] = None

    def __init__(self, parent: ModelAdmin) -> None:
        model: Any = getattr(self, "model", None)
        mapper = inspect(model, raiseerr=False) if model is not None else None
        if mapper is None:
            raise ConfigurationError(
                "prow.E205", f"{type(self).__name__} needs model = a prow.db Model class"
            )
        self.parent = parent
        self.mapper = mapper
        self.fk = self._fk_column(parent)
        self.pk_name = mapper.get_property_by_column(mapper.primary_key[0]).key
        self.prefix = mapper.local_table.name
        editable = [
            prop.key
            for prop in mapper.column_attrs
            if not is_sensitive(prop) and not is_read_only(prop)
        ]
        wanted = list(self.fields) if self.fields is not None else editable
        self.names = [n for n in wanted if n not in (self.fk, self.pk_name) and n in editable]
        exclude = [prop.key for prop in mapper.attrs if prop.key not in self.names]
        self.schema: type[pydantic.BaseModel] = schema_for(
            model, mode="create", exclude=exclude, name=f"{model.__name__}Inline"
        )
        child_admin = parent.site.admin_for(model)
        default = child_admin.title_plural if child_admin else f"{model.__name__}s"
        self.title = self.verbose_name_plural or label_for(default)

    def _fk_column(self, parent: ModelAdmin) -> str:
        if self.fk_name is not None:
            return self.fk_name
        for prop in self.mapper.column_attrs:
            for fk in prop.columns[0].foreign_keys:
                if fk.column.table is parent.mapper.local_table:
                    return str(prop.key)
        raise ConfigurationError(
            "prow.E205",
            f"{type(self).__name__}: {self.model.__name__} has no foreign key to "
            f"{parent.model.__name__}; set fk_name",
        )

    def kind(self, name: str) -> str:
        """The control of a cell: checkbox, number, date, datetime-local, select or text."""
        annotation = self.schema.model_fields[name].annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        base = args[0] if args else annotation
        if base is bool:
            return "checkbox"
        if base in (int, float, decimal.Decimal):
            return "number"
        if base is datetime.date:
            return "date"
        if base is datetime.datetime:
            return "datetime-local"
        if isinstance(base, type) and issubclass(base, enum.Enum):
            return "select"
        return "text"

    def choices(self, name: str) -> list[str]:
        annotation = self.schema.model_fields[name].annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        base = args[0] if args else annotation
        if isinstance(base, type) and issubclass(base, enum.Enum):
            return [str(member.value) for member in base]
        return []


@dataclass
class InlineRow:
    index: int
    key: str  # "" for a new row
    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    delete: bool = False
    data: dict[str, Any] | None = None


class InlineForm:
    """The rows of one inline on one page, read from the database or from a submission."""

    def __init__(self, inline: InlineAdmin, rows: list[InlineRow]) -> None:
        self.inline = inline
        self.rows = rows

    @property
    def has_errors(self) -> bool:
        return any(row.errors for row in self.rows)

    @classmethod
    async def load(cls, inline: InlineAdmin, session: AsyncSession, parent: Any) -> InlineForm:
        rows: list[InlineRow] = []
        if parent is not None:
            fk = getattr(inline.model, inline.fk)
            key = getattr(parent, inline.parent.pk_name)
            pk = getattr(inline.model, inline.pk_name)
            query = select(inline.model).where(fk == key).order_by(pk).limit(inline.max_rows)
            for index, child in enumerate((await session.scalars(query)).all()):
                values = {name: _text(getattr(child, name)) for name in inline.names}
                rows.append(InlineRow(index, str(getattr(child, inline.pk_name)), values))
        for extra in range(inline.extra):
            rows.append(InlineRow(len(rows) + extra, "", dict.fromkeys(inline.names, "")))
        for index, row in enumerate(rows):
            row.index = index
        return cls(inline, rows)

    @classmethod
    def read(cls, inline: InlineAdmin, submitted: Any) -> InlineForm:
        prefix = inline.prefix
        try:
            total = min(int(submitted.get(f"{prefix}-TOTAL", "0")), inline.max_rows + 50)
        except ValueError:
            total = 0
        rows = []
        for index in range(total):
            start = f"{prefix}-{index}-"
            values = {name: str(submitted.get(start + name, "")) for name in inline.names}
            for name in inline.names:
                if inline.kind(name) == "checkbox":
                    values[name] = "true" if submitted.get(start + name) else ""
            row = InlineRow(index, str(submitted.get(start + "KEY", "")), values)
            row.delete = bool(submitted.get(start + "DELETE")) and inline.can_delete
            if row.key or any(values.values()):
                row.data = _validate(inline, row)
            rows.append(row)
        return cls(inline, rows)

    async def save(self, session: AsyncSession, parent: Any) -> bool:
        """Write the rows (in the caller's savepoint); whether anything changed."""
        inline = self.inline
        model = inline.model
        parent_key = getattr(parent, inline.parent.pk_name)
        fk = getattr(model, inline.fk)
        changed = False
        for row in self.rows:
            if row.key:
                child = await session.scalar(
                    select(model).where(fk == parent_key, _pk_equals(inline, row.key))
                )
                if child is None:
                    continue
                if row.delete:
                    await session.delete(child)
                    changed = True
                elif row.data is not None:
                    for name, value in row.data.items():
                        if getattr(child, name) != value:
                            setattr(child, name, value)
                            changed = True
            elif row.data is not None and not row.delete:
                session.add(model(**row.data, **{inline.fk: parent_key}))
                changed = True
        return changed


def _pk_equals(inline: InlineAdmin, raw: str) -> Any:
    column = getattr(inline.model, inline.pk_name)
    try:
        return column == column.type.python_type(raw)
    except (TypeError, ValueError):
        return column.is_(None)


def _validate(inline: InlineAdmin, row: InlineRow) -> dict[str, Any] | None:
    given: dict[str, Any] = {name: value for name, value in row.values.items() if value != ""}
    for name in inline.names:
        if inline.kind(name) == "checkbox":
            given[name] = row.values[name] == "true"
    try:
        valid = inline.schema.model_validate(given)
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            where = str(error["loc"][0]) if error["loc"] else ""
            row.errors.setdefault(where, []).append(error["msg"])
        return None
    data: dict[str, Any] = valid.model_dump(exclude_unset=True)
    return data


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else ""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    return str(value)


TabularInline = InlineAdmin
