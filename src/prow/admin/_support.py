"""What the admin's views share: reading values into rows, actions, counts, CSV cells."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from prow._exceptions import RequestValidationError
from prow._request import Request

if TYPE_CHECKING:
    from prow.admin._options import ModelAdmin

__all__ = [
    "action_function",
    "actions",
    "assign",
    "bounded_count",
    "call",
    "csv_cell",
    "exists",
    "new",
    "problem",
    "readonly_value",
    "related_counts",
]


def new(model_admin: ModelAdmin, values: dict[str, Any], form: Any) -> Any:
    obj = model_admin.model()
    assign(obj, values, form)
    return None if form.errors else obj


def assign(obj: Any, values: dict[str, Any], form: Any) -> None:
    """Set each value; a model that refuses one (``AccountError``...) marks its field."""
    for name, value in values.items():
        try:
            setattr(obj, name, value)
        except (ValueError, TypeError, RequestValidationError) as exc:
            field = getattr(exc, "field", name)
            form.add_error(field if field in form.model.model_fields else name, problem(exc))


def problem(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("msg", exc))
    detail = getattr(exc, "detail", None)
    return str(detail or exc)


def readonly_value(model_admin: ModelAdmin, obj: Any, name: str) -> str:
    from prow.admin._options import display_value

    method = getattr(model_admin, name, None)
    value = method(obj) if callable(method) else getattr(obj, name, None)
    return display_value(value)


def csv_cell(text: str) -> str:
    # Threat: a cell starting with = + - @ is a formula to spreadsheet programs (CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def actions(model_admin: ModelAdmin, request: Request) -> list[tuple[str, str]]:
    out = []
    if model_admin.has_delete_permission(request):
        out.append(("delete_selected", f"Delete selected {model_admin.title_plural.lower()}"))
    for item in model_admin.actions:
        func_ = action_function(model_admin, item if isinstance(item, str) else item.__name__)
        if func_ is None:
            continue
        permission = getattr(func_, "admin_permission", "change")
        if model_admin.has_permission(request, permission):
            name = item if isinstance(item, str) else item.__name__
            label = getattr(func_, "admin_description", None) or name.replace("_", " ").capitalize()
            out.append((name, label))
    return out


def action_function(model_admin: ModelAdmin, name: str) -> Any:
    for item in model_admin.actions:
        if isinstance(item, str) and item == name:
            return getattr(model_admin, item, None)
        if not isinstance(item, str) and item.__name__ == name:
            return item
    return None


async def call(
    func_: Any, model_admin: ModelAdmin, request: Request, session: Any, rows: list[Any]
) -> Any:
    bound = getattr(func_, "__self__", None) is model_admin
    result = func_(request, session, rows) if bound else func_(model_admin, request, session, rows)
    if inspect.isawaitable(result):
        result = await result
    return result


async def bounded_count(session: Any, model_admin: ModelAdmin, request: Request) -> str:
    limit = model_admin.count_limit
    pk = getattr(model_admin.model, model_admin.pk_name)
    inner = model_admin.get_query(request).with_only_columns(pk)
    if limit is not None:
        inner = inner.limit(limit + 1)
    total = int(await session.scalar(select(func.count()).select_from(inner.subquery())) or 0)
    return f"{limit:,}+" if limit is not None and total > limit else f"{total:,}"


async def related_counts(
    session: Any, model_admin: ModelAdmin, rows: list[Any]
) -> list[dict[str, Any]]:
    """What goes with the rows: per one-to-many relationship, how many rows refer to them."""
    keys = [model_admin.pk_of(row) for row in rows]
    out = []
    for rel in model_admin.mapper.relationships:
        if not rel.uselist or rel.secondary is not None:
            continue
        target = rel.mapper.class_
        remote = [pair for pair in rel.local_remote_pairs if pair[0] is model_admin.pk_columns[0]]
        if not remote:
            continue
        column = remote[0][1]
        count = await session.scalar(
            select(func.count()).select_from(column.table).where(column.in_(keys))
        )
        if count:
            # What session.delete() does: the ORM's delete cascade, or the database's ON
            # DELETE CASCADE when the relationship leaves it to the database (passive_deletes).
            cascade = "delete" in rel.cascade or bool(
                rel.passive_deletes
                and any((fk.ondelete or "").upper() == "CASCADE" for fk in column.foreign_keys)
            )
            related_admin = model_admin.site.admin_for(target)
            name = related_admin.title_plural if related_admin else target.__name__
            out.append({"name": name, "count": int(count), "cascade": cascade})
    return out


async def exists(session: Any, model_admin: ModelAdmin, obj: Any) -> bool:
    column = getattr(model_admin.model, model_admin.pk_name)
    found = await session.scalar(select(column).where(column == model_admin.pk_of(obj)))
    return found is not None
