"""``ModelAdmin``: how one model is shown in the admin, as class attributes plus hooks.

Everything has a default derived from the model, so ``admin.register(Item)`` is enough;
a subclass sets Django's options (``list_display``, ``search_fields``...) and overrides
the ``has_*_permission``, ``get_query`` and ``save_model`` hooks where it needs to.
"""

from __future__ import annotations

import datetime
import decimal
import enum
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Boolean, Date, DateTime, Select, inspect, select
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty

from prow._exceptions import ConfigurationError
from prow.db._model import model_key
from prow.db._schemas import is_sensitive

if TYPE_CHECKING:
    from prow.admin._site import Admin

__all__ = ["AdminAction", "ModelAdmin", "action", "label_for"]

#: What a custom action is: ``(model_admin, request, session, rows) -> str | None``.
AdminAction = Callable[..., Any]


def action(
    *, description: str | None = None, permission: str = "change"
) -> Callable[[AdminAction], AdminAction]:
    """Mark a ``ModelAdmin`` method (or a function) as a bulk action, with a label.

    ::

        @action(description="Mark as shipped")
        async def mark_shipped(self, request, session, rows):
            for row in rows:
                row.status = "shipped"
            return f"{len(rows)} orders shipped."
    """

    def mark(func: AdminAction) -> AdminAction:
        func.admin_description = description  # type: ignore[attr-defined]
        func.admin_permission = permission  # type: ignore[attr-defined]
        return func

    return mark


def label_for(name: str) -> str:
    """A readable label: ``created_at`` -> "Created at", ``customer__email`` -> "Customer email"."""
    text = name.replace("__", " ").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else name


def _app_label(model: type[Any]) -> str:
    parts = [p for p in model.__module__.split(".") if p not in ("models", "_models", "_default")]
    if parts[:1] == ["prow"] and len(parts) > 1:
        return parts[1].lstrip("_")
    return (parts[-1] if parts else "app").lstrip("_") or "app"


class ModelAdmin:
    """The admin pages of one model. Subclass it and set options as class attributes.

    Options (Django's names and meanings):

    - ``list_display``: the change list's columns; ``"customer__email"`` follows relations;
      a method name or callable of one argument (the row) works too. Default: the key and
      the first columns.
    - ``list_display_links``: the columns that link to the change form (default: the first).
    - ``list_filter``: sidebar filters: columns with choices, booleans, dates, foreign keys.
    - ``search_fields``: searched with ``?q=``; ``"^name"`` starts with, ``"=id"`` equals,
      otherwise contains (case-insensitive). Relations through ``__``.
    - ``ordering``: the default order, ``["-created_at"]``.
    - ``list_per_page`` (50); ``count_limit`` (1000): a change list counts at most this many
      rows (one bounded query) and says "1,000+" above it, so a page of a table of millions
      costs no ``COUNT(*)``; ``?_count=all`` asks for the exact number. ``None``: always exact.
    - ``fields`` / ``exclude``: the form's fields; ``readonly_fields``: shown, not edited.
    - ``inlines``: ``InlineAdmin`` subclasses for child rows edited on the parent's page.
    - ``actions``: bulk actions, names of methods marked with :func:`action` (the
      "delete selected" action is always there for users who may delete).
    - ``autocomplete_limit`` (200): a foreign key whose table has more rows is a search box
      over the related model instead of a ``<select>`` of every row.
    """

    list_display: ClassVar[Sequence[str | Callable[[Any], Any]]] = ()
    list_display_links: ClassVar[Sequence[str]] = ()
    list_filter: ClassVar[Sequence[str]] = ()
    search_fields: ClassVar[Sequence[str]] = ()
    ordering: ClassVar[Sequence[str]] = ()
    list_per_page: ClassVar[int] = 50
    count_limit: ClassVar[int | None] = 1000
    fields: ClassVar[Sequence[str] | None] = None
    exclude: ClassVar[Sequence[str]] = ()
    readonly_fields: ClassVar[Sequence[str]] = ()
    inlines: ClassVar[Sequence[type[Any]]] = ()
    actions: ClassVar[Sequence[str | AdminAction]] = ()
    autocomplete_limit: ClassVar[int] = 200
    verbose_name: ClassVar[str | None] = None
    verbose_name_plural: ClassVar[str | None] = None
    app_label: ClassVar[str | None] = None

    def __init__(self, model: type[Any], site: Admin) -> None:
        mapper = inspect(model, raiseerr=False)
        if not isinstance(mapper, Mapper):
            raise ConfigurationError(
                "prow.E200", f"admin.register() takes a prow.db Model class, not {model!r}"
            )
        self.model = model
        self.site = site
        self.mapper: Mapper[Any] = mapper
        self.key = model_key(model)
        self.name = model.__name__.lower()
        self.app = self.app_label or _app_label(model)
        self.title = self.verbose_name or label_for(table_name_human(model.__name__))
        self.title_plural = self.verbose_name_plural or _plural(self.title)
        self.pk_columns = list(mapper.primary_key)
        if len(self.pk_columns) != 1:
            raise ConfigurationError(
                "prow.E201",
                f"{model.__name__} has a composite primary key; the admin needs a one-column key",
            )
        self.pk_name = mapper.get_property_by_column(self.pk_columns[0]).key

    # -- the model, read once ------------------------------------------------------------

    def column_props(self) -> list[ColumnProperty[Any]]:
        """The model's column attributes, in declaration order, sensitive ones left out."""
        return [
            prop
            for prop in self.mapper.column_attrs
            if not is_sensitive(prop) and not prop.deferred
        ]

    def column(self, name: str) -> Any:
        """The mapped column attribute called ``name`` (``None`` when it is not one)."""
        prop = self.mapper.attrs.get(name)
        return prop if isinstance(prop, ColumnProperty) else None

    def relationship(self, name: str) -> RelationshipProperty[Any] | None:
        prop = self.mapper.attrs.get(name)
        return prop if isinstance(prop, RelationshipProperty) else None

    def get_list_display(self) -> list[str | Callable[[Any], Any]]:
        """The columns of the change list."""
        if self.list_display:
            return list(self.list_display)
        names: list[str | Callable[[Any], Any]] = [prop.key for prop in self.column_props()]
        return names[:6]

    def get_inlines(self) -> list[Any]:
        """The inline tables of the change form (instances of the ``inlines`` classes)."""
        return [inline(self) for inline in self.inlines]

    def get_ordering(self) -> list[str]:
        return list(self.ordering) or [f"-{self.pk_name}"]

    def get_query(self, request: Any) -> Select[Any]:
        """The rows this admin shows: override to hide some (``.where(...)``)."""
        return select(self.model)

    def object_repr(self, obj: Any) -> str:
        """How a row is named in titles, history and delete confirmations."""
        return name_of(obj, self.title)

    def pk_of(self, obj: Any) -> Any:
        return getattr(obj, self.pk_name)

    def pk_from_path(self, raw: str) -> Any:
        """The primary key in a URL, converted to the column's type (``None`` if it cannot be)."""
        try:
            kind = self.pk_columns[0].type.python_type
        except NotImplementedError:
            return raw
        try:
            return kind(raw)
        except (TypeError, ValueError):
            return None

    # -- permissions ---------------------------------------------------------------------

    def has_permission(self, request: Any, action: str) -> bool:
        """Whether the request's user may ``action`` (view/add/change/delete) this model."""
        user = request.scope.get("user")
        if user is None or not user.is_active or not user.is_staff:
            return False
        if user.is_superuser:
            return True
        held: frozenset[str] = request.scope.get("prow.admin.perms", frozenset())
        if action == "view" and f"{self.key}.change" in held:
            return True  # Django: whoever may change may see
        return f"{self.key}.{action}" in held

    def has_view_permission(self, request: Any) -> bool:
        return self.has_permission(request, "view")

    def has_add_permission(self, request: Any) -> bool:
        return self.has_permission(request, "add")

    def has_change_permission(self, request: Any) -> bool:
        return self.has_permission(request, "change")

    def has_delete_permission(self, request: Any) -> bool:
        return self.has_permission(request, "delete")

    # -- saving --------------------------------------------------------------------------

    async def save_model(self, request: Any, session: Any, obj: Any, change: bool) -> None:
        """Add or update ``obj`` (already filled from the form); flushing is the caller's."""
        session.add(obj)

    async def delete_model(self, request: Any, session: Any, obj: Any) -> None:
        await session.delete(obj)


#: Columns that name a row when its model has no ``__str__``, in order of preference.
_LABEL_COLUMNS = ("name", "title", "username", "codename", "label", "email", "slug", "reference")


def name_of(obj: Any, title: str | None = None) -> str:
    """A row's name: its ``__str__`` when the model has one, else a naming column, else
    "<Model> <key>"."""
    if type(obj).__str__ is not object.__str__:  # type: ignore[comparison-overlap]
        return str(obj)  # the model says how it is named
    mapper = inspect(type(obj))
    for name in _LABEL_COLUMNS:
        prop = mapper.attrs.get(name)
        if isinstance(prop, ColumnProperty) and not is_sensitive(prop):
            value = getattr(obj, name, None)
            if value:
                return str(value)
    key = mapper.get_property_by_column(mapper.primary_key[0]).key
    return f"{title or type(obj).__name__} {getattr(obj, key)}"


def table_name_human(class_name: str) -> str:
    out = []
    for index, char in enumerate(class_name):
        if char.isupper() and index and not class_name[index - 1].isupper():
            out.append(" ")
        out.append(char.lower())
    return "".join(out)


def _plural(title: str) -> str:
    if title.endswith("y") and title[-2:-1] not in "aeiou":
        return title[:-1] + "ies"
    if title.endswith(("s", "x", "sh", "ch")):
        return title + "es"
    return title + "s"


def display_value(value: Any) -> str:
    """A value as the change list shows it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime.date | decimal.Decimal):
        return str(value)
    return str(value)


def column_kind(column: Any) -> str:
    """ "bool", "date", "enum" or "other": which filter a column gets."""
    kind = column.type
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, DateTime | Date):
        return "date"
    if getattr(kind, "enums", None):
        return "enum"
    return "other"
