"""Pydantic schemas derived from a ``Model``: one definition validates input and filters output.

``schema_for(Product, mode="read")`` reads every loaded column of a row
(``from_attributes``): a deferred column (``mapped_column(..., deferred=True)``) is not
loaded unless asked for, so it is in create and update schemas but not in read ones;
``mode="create"`` leaves out what the database generates (autoincrement keys, computed
columns) and makes defaulted columns optional; ``mode="update"`` makes every field
optional, for partial updates. Column types become Python types with their limits
(``String(50)`` → ``max_length=50``, ``Integer`` → the signed 32-bit range, ``Float`` →
finite numbers only, nullable → ``| None``).

A column (or relationship) can keep itself out of derived schemas through its ``info``:
``mapped_column(..., info={"sensitive": True})`` is in no schema (a password hash, an API
key hash), ``info={"read_only": True}`` is in read schemas but in no create or update
schema (``is_superuser``, ``date_joined``). Naming the attribute in ``include=`` brings it
back: that is the only way to expose it, and it is visible in the code that does.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import pydantic
import sqlalchemy as sa
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty

__all__ = [
    "SchemaMode",
    "check_bounds",
    "chosen_fields_schema",
    "column_python_type",
    "has_generated_default",
    "input_type",
    "is_deferred",
    "is_generated",
    "is_read_only",
    "is_sensitive",
    "mapper_of",
    "schema_for",
    "value_constraints",
]

SchemaMode = Literal["read", "create", "update"]
RelationshipMode = Literal["ids", "nested", "omit"]

_CacheKey = tuple[type[Any], str, frozenset[str] | None, frozenset[str] | None, str, str | None]
# Derived schemas are pure functions of the (immutable) mapped class and the options, so
# caching them per process shares no request state; it keeps OpenAPI component names stable.
_cache: dict[_CacheKey, type[pydantic.BaseModel]] = {}

_SUFFIX = {"read": "Read", "create": "Create", "update": "Update"}


def schema_for(
    model: type[Any],
    *,
    mode: SchemaMode = "read",
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    relationships: RelationshipMode = "omit",
    name: str | None = None,
) -> type[pydantic.BaseModel]:
    """A pydantic model describing ``model`` for reading, creating or partially updating.

    ``include``/``exclude`` name mapped attributes (columns or relationships).
    ``relationships`` (read mode only) shows each relationship as the related rows'
    primary keys (``"ids"``), as nested read schemas (``"nested"``), or not at all.
    Attributes marked ``info={"sensitive": True}`` (any mode) or ``{"read_only": True}``
    (create and update), and deferred columns (read), are left out unless ``include``
    names them.
    """
    if mode not in _SUFFIX:
        raise ValueError(f"mode must be 'read', 'create' or 'update', not {mode!r}")
    if relationships != "omit" and mode != "read":
        raise ValueError(
            "relationships can be shown in read schemas only; create and update schemas "
            "take the foreign-key columns (e.g. author_id) instead"
        )
    key: _CacheKey = (
        model,
        mode,
        None if include is None else frozenset(include),
        None if exclude is None else frozenset(exclude),
        relationships,
        name,
    )
    cached = _cache.get(key)
    if cached is None:
        cached = _cache[key] = _build(model, key)
    return cached


def _build(model: type[Any], key: _CacheKey) -> type[pydantic.BaseModel]:
    _, mode, include, exclude, relationships, name = key
    mapper = mapper_of(model)
    _check_known(model, mapper, include, exclude)

    def wanted(prop: Any) -> bool:
        if exclude and prop.key in exclude:
            return False
        if include is not None:
            return prop.key in include  # named: the one way to expose a guarded attribute
        if is_sensitive(prop):
            return False
        if mode == "read":
            return not is_deferred(prop)
        return not is_read_only(prop)

    fields: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        if wanted(prop):
            field = _column_field(prop, mode)
            if field is not None:
                fields[prop.key] = field
    if relationships != "omit":
        for rel in mapper.relationships:
            if wanted(rel):
                fields[rel.key] = _relationship_field(rel, relationships)
    config = ConfigDict(from_attributes=True) if mode == "read" else ConfigDict(extra="forbid")
    schema: type[pydantic.BaseModel] = pydantic.create_model(
        name or f"{model.__name__}{_SUFFIX[mode]}",
        __config__=config,
        __module__=model.__module__,
        **fields,
    )
    return schema


def _check_known(
    model: type[Any],
    mapper: Mapper[Any],
    include: frozenset[str] | None,
    exclude: frozenset[str] | None,
) -> None:
    known = {prop.key for prop in mapper.attrs}
    for option, names in (("include", include), ("exclude", exclude)):
        unknown = sorted((names or frozenset()) - known)
        if unknown:
            raise ValueError(
                f"{option} names {unknown}, which {model.__name__} does not map; "
                f"its attributes are {sorted(known)}"
            )


def mapper_of(model: type[Any]) -> Mapper[Any]:
    try:
        mapper: Mapper[Any] = sa.inspect(model)
    except sa.exc.NoInspectionAvailable:
        raise TypeError(f"{model!r} is not a mapped model class (a prow.db.Model)") from None
    return mapper


def _flag(prop: ColumnProperty[Any] | RelationshipProperty[Any], flag: str) -> bool:
    if prop.info.get(flag):
        return True
    # mapped_column(info=...) stores the dict on the Column, not on the property.
    return isinstance(prop, ColumnProperty) and any(
        column.info.get(flag) for column in prop.columns if isinstance(column, sa.Column)
    )


def is_sensitive(prop: ColumnProperty[Any] | RelationshipProperty[Any]) -> bool:
    """Whether ``prop`` is marked ``info={"sensitive": True}``: never shown, never written.

    Such values (password and key hashes) leak to anyone who can read an answer, and
    offline cracking needs nothing more; so no derived schema shows them by default.
    """
    return _flag(prop, "sensitive")


def is_read_only(prop: ColumnProperty[Any] | RelationshipProperty[Any]) -> bool:
    """Whether ``prop`` is marked ``info={"read_only": True}``: shown, but never written.

    Such values (``is_superuser``) grant privileges or record history: a client allowed
    to edit a row must not be able to change them through a derived create/update schema.
    """
    return _flag(prop, "read_only")


def is_deferred(prop: ColumnProperty[Any] | RelationshipProperty[Any]) -> bool:
    """Whether ``prop`` is a column loaded only when asked for (``deferred=True``).

    Reading it from a row that did not load it is a lazy load, which an async session
    cannot do behind the scenes (it raises: a 500), and the point of deferring a column
    (a long text, a blob) is not to fetch it for every row; so derived read schemas
    leave it out.
    """
    return isinstance(prop, ColumnProperty) and bool(prop.deferred)


def _column(prop: ColumnProperty[Any]) -> sa.Column[Any]:
    column = prop.columns[0]
    assert isinstance(column, sa.Column)
    return column


def is_generated(column: sa.Column[Any]) -> bool:
    """True for columns whose value the database always makes: autoincrement keys, computed."""
    if column.computed is not None:
        return True
    if column.identity is not None:
        return True
    return column is column.table._autoincrement_column


def _has_default(column: sa.Column[Any]) -> bool:
    return (
        column.default is not None
        or column.server_default is not None
        or column.nullable is True
        or column.onupdate is not None
    )


def _column_field(prop: ColumnProperty[Any], mode: str) -> Any:
    column = _column(prop)
    python_type = column_python_type(column)
    if mode == "read":
        python_type = _read_type(column, python_type)
    if column.nullable:
        python_type = python_type | None
    if mode == "read":
        return (python_type, ...)
    if is_generated(column) or (mode == "update" and column.primary_key):
        return None
    python_type = input_type(python_type, _storage_type(column))
    constraints = _constraints(column)
    if mode == "update":
        return (python_type, _absent(constraints))
    if _has_default(column):
        default = _static_default(column)
        if default is None:
            return (python_type, _absent(constraints))
        return (python_type, Field(default, **constraints))
    return (python_type, Field(..., **constraints))


#: How a timezone-less DATETIME column's values are sent: an RFC 3339 ``date-time`` needs an
#: offset, which such a column does not store, so the document says what is really sent.
NAIVE_DATETIME_SCHEMA = {
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$",
    "description": "A date and time without a UTC offset: the column stores none.",
}


def _read_type(column: sa.Column[Any], python_type: Any) -> Any:
    """The type a read schema shows ``column`` with, where it differs from the stored type."""
    column_type = _storage_type(column)
    if python_type is not datetime.datetime or not isinstance(column_type, sa.DateTime):
        return python_type
    if column_type.timezone:
        # SQLite keeps no offset even for DateTime(timezone=True): prow writes such columns
        # in UTC, so a value read back without one is UTC, and is sent as a date-time.
        return Annotated[datetime.datetime, AfterValidator(_in_utc)]
    return Annotated[datetime.datetime, WithJsonSchema(NAIVE_DATETIME_SCHEMA, "serialization")]


def input_type(python_type: Any, column_type: Any = None) -> Any:
    """The type input for a column of ``python_type`` (and ``column_type``) is validated as.

    Dates and times are documented as ISO 8601 strings (``format: date-time``), but pydantic
    also reads a number as a Unix timestamp: ``{"created_at": 0}`` or ``?created_at=0``
    would be taken as 1970, a value no client meant. Numbers are refused, as documented.
    A ``DateTime(timezone=True)`` value is turned to UTC: SQLite keeps no offset, so a value
    stored with another one would read back as a different moment.
    """
    if python_type not in (datetime.datetime, datetime.date, datetime.time):
        return python_type
    if isinstance(column_type, sa.DateTime) and column_type.timezone:
        return Annotated[python_type, BeforeValidator(_refuse_numbers), AfterValidator(_in_utc)]
    return Annotated[python_type, BeforeValidator(_refuse_numbers)]


def _in_utc(value: datetime.datetime) -> datetime.datetime:
    # A value without an offset is taken as UTC, the way prow writes and reads these columns.
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def _refuse_numbers(value: Any) -> Any:
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMERIC.match(value) is not None
    ):
        raise ValueError("expected a date or time in ISO 8601 form, not a number")
    return value


_NUMERIC = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


def chosen_fields_schema(read: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """``read`` with every field optional: an answer narrowed with ``?fields=``, for OpenAPI."""
    fields = {name: (field.annotation, _absent({})) for name, field in read.model_fields.items()}
    return pydantic.create_model(  # type: ignore[no-any-return, call-overload]
        f"{read.__name__}Fields",
        __module__=read.__module__,
        __doc__=f"Some fields of {read.__name__}: those named in the fields query parameter.",
        **fields,
    )


def _absent(constraints: dict[str, Any]) -> Any:
    # "Not given" is None in Python, but None is not a valid value of a non-nullable
    # field, so the JSON Schema shows no default instead of a wrong one.
    return Field(None, json_schema_extra=_drop_default, **constraints)


def _drop_default(schema: dict[str, Any]) -> None:
    nullable = any(option.get("type") == "null" for option in schema.get("anyOf", ()))
    if "default" in schema and schema["default"] is None and not nullable:
        del schema["default"]


def _static_default(column: sa.Column[Any]) -> Any:
    """The default shown in the schema: a plain scalar default, else None."""
    return getattr(column.default, "arg", None) if _has_plain_default(column) else None


def _has_plain_default(column: sa.Column[Any]) -> bool:
    """Whether ``column`` has a plain Python default (``default=0``), known before an INSERT."""
    return column.default is not None and bool(getattr(column.default, "is_scalar", False))


def has_generated_default(column: sa.Column[Any]) -> bool:
    """Whether an INSERT that leaves ``column`` out makes its value at that moment.

    That is a server default (``server_default=func.now()``) or a callable or SQL
    expression default (``default=uuid.uuid4``); a plain default (``default=0``) is not:
    it is a known value, which a schema states as its field's default.
    """
    return column.server_default is not None or (
        column.default is not None and not _has_plain_default(column)
    )


def column_python_type(column: sa.ColumnElement[Any]) -> Any:
    """The Python type values of ``column`` have (``Any`` when the type does not say)."""
    column_type = column.type
    if isinstance(column_type, sa.Enum):
        if column_type.enum_class is not None:
            return column_type.enum_class
        return Literal[tuple(column_type.enums)]
    try:
        python_type: Any = column_type.python_type
    except NotImplementedError:
        return Any
    return python_type


# Signed ranges of the integer column types. A value outside them is refused as invalid
# input (422) instead of reaching the driver, which fails with an OverflowError (a 500) or,
# on some databases, silently clips the value.
_INT_BITS: tuple[tuple[type[sa.types.TypeEngine[Any]], int], ...] = (
    (sa.SmallInteger, 16),
    (sa.BigInteger, 64),
    (sa.Integer, 32),
)


def _storage_type(column: sa.ColumnElement[Any]) -> Any:
    column_type = column.type
    if isinstance(column_type, sa.TypeDecorator):
        return column_type.impl_instance
    return column_type


def value_constraints(column: sa.ColumnElement[Any]) -> dict[str, Any]:
    """``Field`` constraints every value stored in ``column`` must meet.

    Integers stay within the column type's range (``Integer`` 32-bit, ``BigInteger``
    64-bit, ``SmallInteger`` 16-bit); floats and decimals must be finite, as no database
    stores infinity or NaN the same way (SQLite reads them back as null).
    """
    column_type = _storage_type(column)
    python_type = column_python_type(column)
    if python_type is int and isinstance(column_type, sa.Integer):
        bits = next(bits for kind, bits in _INT_BITS if isinstance(column_type, kind))
        return {"ge": -(2 ** (bits - 1)), "le": 2 ** (bits - 1) - 1}
    if python_type in (float, decimal.Decimal):
        return {"allow_inf_nan": False}
    return {}


def _constraints(column: sa.Column[Any]) -> dict[str, Any]:
    column_type = column.type
    constraints: dict[str, Any] = value_constraints(column)
    length = getattr(column_type, "length", None)
    if isinstance(column_type, sa.String) and not isinstance(column_type, sa.Enum) and length:
        constraints["max_length"] = length
    if isinstance(column_type, sa.Numeric) and column_python_type(column) is decimal.Decimal:
        if column_type.precision is not None:
            constraints["max_digits"] = column_type.precision
        if column_type.scale is not None:
            constraints["decimal_places"] = column_type.scale
    for key, bound in check_bounds(column).items():
        keep = constraints.get(key) if key == "max_length" else None
        constraints[key] = bound if keep is None else min(bound, keep)
    if column.doc:
        constraints["description"] = column.doc
    return constraints


_NUMBER = r"(-?\d+(?:\.\d+)?)"
_COMPARISON = re.compile(rf"^\s*\(?\s*(\w+)\s*(>=|<=|>|<)\s*{_NUMBER}\s*\)?\s*$")
_LENGTH = re.compile(
    r"^\s*\(?\s*(?:length|char_length)\s*\(\s*(\w+)\s*\)\s*(>=|<=|>|<)\s*(\d+)\s*\)?\s*$", re.I
)
_BOUND_KEYS = {">": "gt", ">=": "ge", "<": "lt", "<=": "le"}


def check_bounds(column: sa.Column[Any]) -> dict[str, Any]:
    """``Field`` constraints read from the table's simple CHECK constraints on ``column``.

    ``CheckConstraint("price > 0")`` becomes ``gt=0`` and ``"length(name) > 0"``
    ``min_length=1``, so input the database would refuse is refused (422, naming the field)
    before it gets there, and the document shows the rule. Other constraints stay the
    database's to enforce (answered 422 naming the constraint).
    """
    table = column.table if isinstance(column.table, sa.Table) else None
    if table is None:
        return {}
    bounds: dict[str, Any] = {}
    for constraint in table.constraints:
        text = getattr(getattr(constraint, "sqltext", None), "text", None)
        if isinstance(constraint, sa.CheckConstraint) and isinstance(text, str):
            bounds.update(_bound_of(text, column))
    return bounds


def _bound_of(text: str, column: sa.Column[Any]) -> dict[str, Any]:
    found = _COMPARISON.match(text)
    if found and found.group(1) == column.name and column_python_type(column) in (int, float):
        number = float(found.group(3)) if "." in found.group(3) else int(found.group(3))
        return {_BOUND_KEYS[found.group(2)]: number}
    found = _LENGTH.match(text)
    if found and found.group(1) == column.name and column_python_type(column) is str:
        limit, operator = int(found.group(3)), found.group(2)
        if operator in (">", ">="):
            return {"min_length": limit + 1 if operator == ">" else limit}
        return {"max_length": limit - 1 if operator == "<" else limit}
    return {}


def _relationship_field(rel: RelationshipProperty[Any], mode: str) -> Any:
    target = rel.mapper.class_
    if mode == "nested":
        item: Any = schema_for(target, mode="read")
    else:
        pk_columns = rel.mapper.primary_key
        if len(pk_columns) != 1:
            raise ValueError(
                f"relationship {rel.key!r} points at {target.__name__}, whose primary key has "
                f"{len(pk_columns)} columns; show it nested instead of as ids"
            )
        pk_type = column_python_type(pk_columns[0])
        pk_key = rel.mapper.get_property_by_column(pk_columns[0]).key
        item = Annotated[pk_type, BeforeValidator(_primary_key_of(target, pk_key))]
    if rel.uselist:
        return (list[item], ...)
    return (item | None, ...)


def _primary_key_of(target: type[Any], pk_key: str) -> Any:
    def to_key(value: Any) -> Any:
        # Rows become their key; an id given as such (e.g. from a dict) passes through.
        return getattr(value, pk_key) if isinstance(value, target) else value

    return to_key
