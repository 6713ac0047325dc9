"""Foreign keys in forms: a select of the related rows, or a searchable input for big tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import class_mapper

from prow.forms._spec import Widget

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["RelatedFields", "related_fields"]

#: The label columns tried, in order, when the related model defines no ``__str__``.
_LABELS = ("name", "title", "label", "username", "email", "slug", "code")


class RelatedFields(TypedDict):
    """``blank_form``/``bind_form`` keyword arguments: ``**await related_fields(db, Model)``."""

    choices: dict[str, list[tuple[Any, str]]]
    widgets: dict[str, Widget | str]


async def related_fields(
    session: AsyncSession, model: type[Any], *, limit: int = 200
) -> RelatedFields:
    """The choices of every foreign-key column of ``model``: the related rows, labelled.

    A related table of up to ``limit`` rows becomes a ``<select>``; a bigger one a text input
    that searches the first ``limit`` rows (by label) as one types (``Widget("datalist")``),
    where any id can still be typed. A row's label is ``str(row)`` when its class defines
    ``__str__``, else its ``name``/``title``/``username``... column, else its id. Validation stays
    the form model's: check in the handler that the chosen row exists (the database's foreign
    key refuses it otherwise, 409/422).
    """
    table: Any = getattr(model, "__table__")  # noqa: B009 - a mapped class's table
    found = RelatedFields(choices={}, widgets={})
    mapper = class_mapper(model)
    for column in table.columns:
        keys = list(column.foreign_keys)
        if len(keys) != 1:
            continue
        target = _mapped_class(mapper, keys[0].column.table)
        if target is None:
            continue
        attribute = mapper.get_property_by_column(column).key
        rows, total = await _rows(session, target, keys[0].column, limit)
        found["choices"][attribute] = [(value, _label(row, value)) for value, row in rows]
        if total > limit:
            found["widgets"][attribute] = Widget("datalist")
    return found


def _mapped_class(mapper: Any, table: Any) -> type[Any] | None:
    for other in mapper.registry.mappers:
        if other.local_table is table:
            return other.class_  # type: ignore[no-any-return]
    return None


async def _rows(
    session: AsyncSession, target: type[Any], column: Any, limit: int
) -> tuple[list[tuple[Any, Any]], int]:
    total = int(await session.scalar(select(func.count()).select_from(column.table)) or 0)
    query: Any = select(target)
    label = _label_column(target)
    query = query.order_by(label if label is not None else column).limit(limit)
    rows = list(await session.scalars(query))
    return [(getattr(row, _key(target, column)), row) for row in rows], total


def _key(target: type[Any], column: Any) -> str:
    return str(class_mapper(target).get_property_by_column(column).key)


def _label_column(target: type[Any]) -> Any:
    for name in _LABELS:
        attribute = getattr(target, name, None)
        if attribute is not None and hasattr(attribute, "property"):
            return attribute
    return None


def _label(row: Any, value: Any) -> str:
    own_str: Any = type(row).__str__
    if own_str is not object.__str__:
        return str(row)
    for name in _LABELS:
        text = getattr(row, name, None)
        if isinstance(text, str) and text:
            return text
    return f"{type(row).__name__} {value}"
