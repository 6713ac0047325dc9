"""The change list: one SQL query for the page, built from ``list_display`` and the URL.

The URL carries the whole state, so every view of the list is a link (and works without
JavaScript): ``q`` searches, ``o`` orders (``o=-total,id``), ``p`` pages, and each filter
is a parameter (``status=shipped``, ``created_at__gte=2030-01-01``, ``customer_id=3``).

Counting: a ``COUNT(*)`` over a table of millions of rows reads it all, on every page. The
list counts at most ``count_limit`` rows (``SELECT count(*) FROM (... LIMIT n + 1)``), which
costs the same on ten thousand rows and on ten million, and reads one extra row per page
to know whether there is a next one; ``?_count=all`` asks for the exact number.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sqlalchemy import String, and_, false, func, or_, select
from sqlalchemy.orm import ColumnProperty, RelationshipProperty, aliased, selectinload

from prow._exceptions import ConfigurationError, HTTPError
from prow.admin._options import column_kind, display_value, label_for, name_of
from prow.db._schemas import is_sensitive

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from prow.admin._options import ModelAdmin

__all__ = ["ChangeList", "Paths", "check_options"]

RESERVED = frozenset(("q", "o", "p", "_count"))


@dataclass
class Resolved:
    """A ``__`` path: the joins it needs (prefix -> alias) and the attribute it ends on."""

    attribute: Any  # an InstrumentedAttribute on the model or on an alias
    prop: ColumnProperty[Any] | RelationshipProperty[Any]
    joins: list[str]


class Paths:
    """Resolves ``customer__email`` to an aliased join and a column, once per change list."""

    def __init__(self, model_admin: ModelAdmin) -> None:
        self.model_admin = model_admin
        self.aliases: dict[str, tuple[Any, Any]] = {}  # prefix -> (alias, relationship attr)

    def resolve(self, path: str) -> Resolved:
        parts = path.split("__")
        entity: Any = self.model_admin.model
        mapper = self.model_admin.mapper
        prefix = ""
        joins: list[str] = []
        for part in parts[:-1]:
            rel = mapper.relationships.get(part)
            if rel is None or rel.uselist or is_sensitive(rel):
                raise ValueError(
                    f"{part!r} is not a to-one relationship of {mapper.class_.__name__}"
                )
            prefix = f"{prefix}__{part}" if prefix else part
            if prefix not in self.aliases:
                self.aliases[prefix] = (aliased(rel.mapper.class_), getattr(entity, part))
            entity = self.aliases[prefix][0]
            mapper = rel.mapper
            joins.append(prefix)
        last = mapper.attrs.get(parts[-1])
        if not isinstance(last, ColumnProperty | RelationshipProperty) or is_sensitive(last):
            raise ValueError(f"{parts[-1]!r} is not a field of {mapper.class_.__name__}")
        if isinstance(last, RelationshipProperty) and (last.uselist or joins):
            raise ValueError(f"{path!r}: only a direct to-one relationship can be shown")
        return Resolved(getattr(entity, parts[-1]), last, joins)

    def join(self, query: Any, prefixes: Sequence[str]) -> Any:
        done: set[str] = set()
        for prefix in prefixes:
            if prefix in done:
                continue
            done.add(prefix)
            alias, through = self.aliases[prefix]
            query = query.outerjoin(through.of_type(alias))
        return query


def check_options(model_admin: ModelAdmin) -> None:
    """Refuse misspelt option names at start-up (``prow.E203``), as Django's checks do."""
    model_admin.get_inlines()  # each refuses a model without a key to the parent (E205)
    paths = Paths(model_admin)
    owner = f"{type(model_admin).__name__} of {model_admin.model.__name__}"
    named: list[tuple[str, str]] = [
        ("list_display", name) for name in model_admin.get_list_display() if isinstance(name, str)
    ]
    named += [("list_filter", name) for name in model_admin.list_filter]
    named += [("search_fields", name.lstrip("^=@")) for name in model_admin.search_fields]
    named += [("ordering", name.lstrip("-")) for name in model_admin.ordering]
    for option, name in named:
        if option == "list_display" and callable(getattr(model_admin, name, None)):
            continue
        try:
            resolved = paths.resolve(name)
        except ValueError as exc:
            raise ConfigurationError(
                "prow.E203", f"{owner}: {option} names {name!r}: {exc}"
            ) from None
        if option == "search_fields" and isinstance(resolved.prop, RelationshipProperty):
            raise ConfigurationError(
                "prow.E203",
                f"{owner}: search_fields names the relationship {name!r}; name a column",
            )


@dataclass
class ListColumn:
    name: str
    label: str
    order_key: str | None  # the name in ``o=``, when the column can be sorted
    value: Callable[[Any, tuple[Any, ...]], Any]
    is_bool: bool = False


@dataclass
class FilterChoice:
    label: str
    url: str
    selected: bool


@dataclass
class Filter:
    title: str
    choices: list[FilterChoice] = field(default_factory=list)


class ChangeList:
    """The state of one change-list page, read from the URL, and its rows once loaded."""

    def __init__(self, model_admin: ModelAdmin, request: Any) -> None:
        self.model_admin = model_admin
        self.request = request
        self.params: dict[str, str] = dict(request.query_params.items())
        self.query_text = self.params.get("q", "").strip()
        self.paths = Paths(model_admin)
        self.columns = [self._column(item) for item in model_admin.get_list_display()]
        self.links = set(model_admin.list_display_links) or {self.columns[0].name}
        self.order = self._order()
        self.page = self._page()
        self.per_page = model_admin.list_per_page
        self.rows: list[tuple[Any, tuple[Any, ...]]] = []
        self.has_next = False
        self.count: int | None = None
        self.count_capped = False
        self.filters: list[Filter] = []
        self.like = "ilike"  # "like" where LIKE ignores case already (SQLite, MySQL)

    # -- reading the URL ------------------------------------------------------------------

    def _column(self, item: str | Callable[[Any], Any]) -> ListColumn:
        admin = self.model_admin
        if not isinstance(item, str):
            label = getattr(item, "short_description", None) or label_for(item.__name__)
            return ListColumn(item.__name__, label, None, lambda row, extra: item(row))
        method = getattr(admin, item, None)
        if callable(method):
            label = getattr(method, "short_description", None) or label_for(item)
            return ListColumn(item, label, None, lambda row, extra: method(row))
        resolved = self.paths.resolve(item)
        if isinstance(resolved.prop, RelationshipProperty):
            return ListColumn(item, label_for(item), None, lambda row, extra: getattr(row, item))
        is_bool = column_kind(resolved.prop.columns[0]) == "bool"
        if not resolved.joins:
            return ListColumn(
                item, label_for(item), item, lambda row, extra: getattr(row, item), is_bool
            )
        index = len(self._extra_names())
        self._extra.append(item)
        return ListColumn(item, label_for(item), item, lambda row, extra: extra[index], is_bool)

    @property
    def _extra(self) -> list[str]:
        if not hasattr(self, "_extra_list"):
            self._extra_list: list[str] = []
        return self._extra_list

    def _extra_names(self) -> list[str]:
        return self._extra

    def _order(self) -> list[str]:
        sortable = {column.order_key for column in self.columns if column.order_key}
        raw = self.params.get("o")
        if raw is None:
            return self.model_admin.get_ordering()
        wanted = [part.strip() for part in raw.split(",") if part.strip()]
        for part in wanted:
            if part.lstrip("-") not in sortable:
                raise HTTPError(400, f"cannot order by {part.lstrip('-')!r}")
        return wanted

    def _page(self) -> int:
        raw = self.params.get("p", "1")
        if not raw.isdigit() or int(raw) < 1 or int(raw) > 1_000_000:
            raise HTTPError(400, "p must be a page number (1, 2, ...)")
        return int(raw)

    # -- building the query ---------------------------------------------------------------

    def _where(self) -> tuple[list[Any], list[str]]:
        conditions: list[Any] = []
        joins: list[str] = []
        for term in self.query_text.split()[:10]:
            alternatives = []
            for spec in self.model_admin.search_fields:
                resolved = self.paths.resolve(spec.lstrip("^=@"))
                condition = _search_condition(resolved, spec[:1], term, self.like)
                if condition is not None:
                    alternatives.append(condition)
                    joins += resolved.joins
            conditions.append(or_(*alternatives) if alternatives else false())
        for name, value in self.params.items():
            if name in RESERVED:
                continue
            condition, more = self._filter_condition(name, value)
            conditions.append(condition)
            joins += more
        return conditions, joins

    def _filter_condition(self, name: str, value: str) -> tuple[Any, list[str]]:
        base = name.removesuffix("__gte").removesuffix("__lt")
        allowed = set(self.model_admin.list_filter) | set(_filter_columns(self.model_admin))
        if base not in allowed:
            raise HTTPError(400, f"cannot filter by {name!r}")
        resolved = self.paths.resolve(base)
        if isinstance(resolved.prop, RelationshipProperty):
            local = next(iter(resolved.prop.local_columns))
            attr = getattr(
                self.model_admin.model, self.model_admin.mapper.get_property_by_column(local).key
            )
            column = local
        else:
            attr, column = resolved.attribute, resolved.prop.columns[0]
        if value == "" and column.nullable:
            return attr.is_(None), resolved.joins
        converted = _convert(column, value, name)
        if name.endswith("__gte"):
            return attr >= converted, resolved.joins
        if name.endswith("__lt"):
            return attr < converted, resolved.joins
        return attr == converted, resolved.joins

    def _ordered(self, query: Any, joins: list[str]) -> tuple[Any, list[str]]:
        clauses = []
        for part in self.order:
            resolved = self.paths.resolve(part.lstrip("-"))
            joins += resolved.joins
            attribute = resolved.attribute
            clauses.append(attribute.desc() if part.startswith("-") else attribute.asc())
        pk = getattr(self.model_admin.model, self.model_admin.pk_name)
        if not any(part.lstrip("-") == self.model_admin.pk_name for part in self.order):
            clauses.append(
                pk.desc() if self.order[:1] and self.order[0].startswith("-") else pk.asc()
            )
        return query.order_by(*clauses), joins

    async def load(self, session: AsyncSession) -> None:
        """Run the page's query (and the bounded count, and the filters' options)."""
        admin = self.model_admin
        if session.get_bind().dialect.name in ("sqlite", "mysql", "mariadb"):
            # Their LIKE ignores case already; SQLAlchemy's ilike() would add lower() on
            # both sides, which costs a function call per row scanned.
            self.like = "like"
        conditions, joins = self._where()
        base = admin.get_query(self.request)
        if conditions:
            base = base.where(and_(*conditions))
        extra_attrs = [self.paths.resolve(name).attribute for name in self._extra]
        for name in self._extra:
            joins += self.paths.resolve(name).joins
        query = base.add_columns(*extra_attrs) if extra_attrs else base
        query, joins = self._ordered(query, joins)
        for column in self.columns:
            prop = admin.relationship(column.name)
            if prop is not None:
                query = query.options(selectinload(getattr(admin.model, column.name)))
        query = self.paths.join(query, joins)
        offset = (self.page - 1) * self.per_page
        result = await session.execute(query.offset(offset).limit(self.per_page + 1))
        rows = [(row[0], tuple(row[1:])) for row in result.all()]
        self.has_next = len(rows) > self.per_page
        self.rows = rows[: self.per_page]
        await self._count(session, self.paths.join(base, joins), offset)
        self.filters = await self._filters(session)

    async def _count(self, session: AsyncSession, filtered: Any, offset: int) -> None:
        if not self.has_next and (self.rows or self.page == 1):
            self.count = offset + len(self.rows)  # the last page says how many there are
            return
        pk = getattr(self.model_admin.model, self.model_admin.pk_name)
        limit = self.model_admin.count_limit
        inner = filtered.with_only_columns(pk).order_by(None)
        if limit is not None and self.params.get("_count") != "all":
            inner = inner.limit(limit + 1)
        total = await session.scalar(select(func.count()).select_from(inner.subquery()))
        self.count = int(total or 0)
        if limit is not None and self.params.get("_count") != "all" and self.count > limit:
            self.count, self.count_capped = limit, True

    # -- what the template shows ----------------------------------------------------------

    @property
    def pages(self) -> int | None:
        if self.count is None:
            return None
        return max(1, math.ceil(self.count / self.per_page))

    def url(self, **changes: Any) -> str:
        """This list's URL with some parameters changed (``None`` removes one)."""
        params = dict(self.params)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = str(value)
        if "p" in params and params["p"] == "1":
            del params["p"]
        return "?" + urlencode(params) if params else "?"

    def sort_url(self, column: ListColumn) -> str:
        assert column.order_key is not None
        current = self.order[0] if self.order else ""
        key = column.order_key
        target = f"-{key}" if current == key else key
        return self.url(o=target, p=None)

    def sort_state(self, column: ListColumn) -> str | None:
        if not self.order or column.order_key is None:
            return None
        first = self.order[0]
        if first == column.order_key:
            return "ascending"
        if first == f"-{column.order_key}":
            return "descending"
        return None

    def cells(self, row: Any, extra: tuple[Any, ...]) -> list[tuple[ListColumn, Any, str]]:
        out = []
        for column in self.columns:
            value = column.value(row, extra)
            out.append((column, value, display_value(value)))
        return out

    def page_links(self) -> list[int | None]:
        """Page numbers to link (``None`` is a gap), around the current page."""
        last = self.pages if self.pages is not None else self.page + (1 if self.has_next else 0)
        wanted = {1, 2, last - 1, last, *range(self.page - 2, self.page + 3)}
        numbers = sorted(n for n in wanted if 1 <= n <= last)
        out: list[int | None] = []
        for number in numbers:
            if out and out[-1] is not None and number - out[-1] > 1:
                out.append(None)
            out.append(number)
        return out

    async def _filters(self, session: AsyncSession) -> list[Filter]:
        return [await self._filter(session, name) for name in self.model_admin.list_filter]

    async def _filter(self, session: AsyncSession, name: str) -> Filter:
        resolved = self.paths.resolve(name)
        found = Filter(label_for(name))
        if isinstance(resolved.prop, RelationshipProperty):
            return await self._relation_filter(session, name, resolved, found)
        column = resolved.prop.columns[0]
        kind = column_kind(column)
        if kind == "bool":
            options = [("1", "Yes"), ("0", "No")]
        elif kind == "date":
            return self._date_filter(name, column, found)
        elif kind == "enum":
            options = _enum_options(column)
        else:
            query = select(resolved.attribute).distinct().order_by(resolved.attribute).limit(50)
            query = self.paths.join(query.select_from(self.model_admin.model), resolved.joins)
            options = [(str(v), display_value(v)) for v in (await session.scalars(query)).all()]
        self._choices(found, name, options)
        return found

    def _choices(self, found: Filter, name: str, options: list[tuple[str, str]]) -> None:
        current = self.params.get(name)
        found.choices.append(
            FilterChoice("All", self.url(**{name: None, "p": None}), current is None)
        )
        for value, label in options:
            found.choices.append(
                FilterChoice(label, self.url(**{name: value, "p": None}), current == value)
            )

    async def _relation_filter(
        self, session: AsyncSession, name: str, resolved: Resolved, found: Filter
    ) -> Filter:
        prop = resolved.prop
        assert isinstance(prop, RelationshipProperty)
        related = prop.mapper.class_
        related_admin = self.model_admin.site.admin_for(related)
        pk = prop.mapper.primary_key[0]
        query = select(related).order_by(pk).limit(50)
        rows = (await session.scalars(query)).all()
        key = prop.mapper.get_property_by_column(pk).key
        label = related_admin.object_repr if related_admin else name_of
        self._choices(found, name, [(str(getattr(r, key)), label(r)) for r in rows])
        return found

    def _date_filter(self, name: str, column: Any, found: Filter) -> Filter:
        today = datetime.datetime.now(datetime.UTC).date()
        tomorrow = today + datetime.timedelta(days=1)
        ranges = [
            ("Any date", None, None),
            ("Today", today, tomorrow),
            ("Past 7 days", today - datetime.timedelta(days=7), tomorrow),
            ("This month", today.replace(day=1), tomorrow),
            ("This year", today.replace(month=1, day=1), tomorrow),
        ]
        gte, lt = f"{name}__gte", f"{name}__lt"
        for label, start, end in ranges:
            url = self.url(**{gte: start, lt: end, "p": None})
            selected = self.params.get(gte) == (str(start) if start else None) and self.params.get(
                lt
            ) == (str(end) if end else None)
            found.choices.append(FilterChoice(label, url, selected))
        return found


def _filter_columns(model_admin: ModelAdmin) -> list[str]:
    """Foreign-key columns behind relationship filters (``customer`` -> ``customer_id``)."""
    out = []
    for name in model_admin.list_filter:
        rel = model_admin.relationship(name)
        if rel is not None:
            for local in rel.local_columns:
                out.append(model_admin.mapper.get_property_by_column(local).key)
    return out


def _convert(column: Any, value: str, name: str) -> Any:
    kind = column_kind(column)
    try:
        if kind == "bool":
            if value not in ("0", "1", "true", "false"):
                raise ValueError(value)
            return value in ("1", "true")
        if kind == "date":
            day = datetime.date.fromisoformat(value)
            if column.type.python_type is datetime.datetime:
                moment = datetime.datetime.combine(day, datetime.time())
                return moment.replace(tzinfo=datetime.UTC) if column.type.timezone else moment
            return day
        if kind == "enum":
            enum_class = getattr(column.type, "enum_class", None)
            if enum_class is None:
                if value not in column.type.enums:
                    raise ValueError(value)
                return value
            for member in enum_class:
                if value in (str(member.value), member.name):
                    return member
            raise ValueError(value)
        return column.type.python_type(value)
    except (ValueError, TypeError, NotImplementedError):
        raise HTTPError(400, f"{name}: {value[:50]!r} is not a valid value") from None


def _enum_options(column: Any) -> list[tuple[str, str]]:
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is None:
        return [(str(v), str(v)) for v in column.type.enums]
    return [(str(m.value), str(m.value)) for m in enum_class]


def _search_condition(resolved: Resolved, mode: str, term: str, like: str = "ilike") -> Any:
    attribute = resolved.attribute
    column = resolved.prop.columns[0]
    if isinstance(column.type, String):
        if mode == "=":
            return func.lower(attribute) == term.lower()
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"{escaped}%" if mode == "^" else f"%{escaped}%"
        return getattr(attribute, like)(pattern, escape="\\")
    try:
        return attribute == column.type.python_type(term)
    except (ValueError, TypeError, NotImplementedError, ArithmeticError):
        return None
