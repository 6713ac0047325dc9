"""Database errors as HTTP answers: a missing row, a conflict, an unavailable database.

::

    sqlalchemy.exc.NoResultFound        -> 404
    sqlalchemy.exc.IntegrityError       -> 409 (unique, foreign key), 422 (not null, check)
    ValueTooLong                        -> 422 naming the column
    InvalidValue                        -> 422 (a number out of range, a NUL character)
    DatabaseUnavailable                 -> 503 with Retry-After
    sqlalchemy.exc.TimeoutError (pool)  -> 503 with Retry-After

``DatabaseUnavailable`` is an ``OperationalError`` that prow's engines raise in place
of the driver's error when the database cannot be reached or refuses work for a
while (connection refused or lost, too many connections, the server starting up or
shutting down, a statement or lock timeout, deadlock, locked file), whichever class
the driver gave it: asyncpg reports most of these as a plain ``DBAPIError``, so the
SQLSTATE decides, not the class. ``ValueTooLong`` is a ``DataError`` they raise when a
string does not fit its ``String(n)`` column (PostgreSQL and MariaDB/MySQL refuse it;
SQLite stores it whole), and ``InvalidValue`` one they raise for other input the
database refuses to store or compare (SQLSTATE class 22, SQLite's ``OverflowError``).
Other database errors are bugs, and stay 500s that the server logs.

The answers name the field and constraint but never echo the values found in the
driver's message: those may belong to another user's row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Index, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.schema import ColumnCollectionConstraint

from prow._errors import EXPLAINERS
from prow._exceptions import HTTPError
from prow.db._lazy import explain as explain_unloaded
from prow.db._model import Model

if TYPE_CHECKING:
    from prow._app import App
    from prow._request import Request
    from prow.responses import Response

__all__ = [
    "RETRY_AFTER_SECONDS",
    "DatabaseUnavailable",
    "InvalidValue",
    "ValueTooLong",
    "Violation",
    "guard_engine",
    "install_error_handlers",
    "integrity_error_answer",
    "invalid_value_answer",
    "parse_integrity_error",
    "too_long_answer",
]

logger = logging.getLogger("prow.db")

#: The ``Retry-After`` a 503 suggests to clients.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(sa_exc.OperationalError):
    """The database cannot be reached or is refusing work for now; answered 503."""


class ValueTooLong(sa_exc.DataError):
    """A string is longer than its ``String(n)`` column allows; answered 422.

    ``fields`` names the columns (empty when the database did not say and prow could not
    tell), ``lengths`` their declared lengths (for the columns whose length is known).
    """

    def __init__(
        self,
        statement: str | None,
        params: Any,
        orig: BaseException,
        *args: Any,
        fields: Sequence[str] = (),
        lengths: Mapping[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(statement, params, orig, *args, **kwargs)
        self.fields: list[str] = list(fields)
        self.lengths: dict[str, int] = dict(lengths or {})

    def __reduce__(self) -> tuple[Any, ...]:
        # DBAPIError is rebuilt (pickle, copy) from its positional arguments: carry the
        # columns along in the state, which is set on the rebuilt error.
        rebuilt, args, state = cast("tuple[Any, Any, dict[str, Any]]", super().__reduce__())
        return rebuilt, args, {**state, "fields": self.fields, "lengths": self.lengths}


class InvalidValue(sa_exc.DataError):
    """A value the database refuses to store or compare; answered 422.

    ``problem`` says what is wrong: ``"out_of_range"`` (a number its column cannot hold,
    such as an id beyond 64 bits), ``"invalid_character"`` (a NUL character, which
    PostgreSQL cannot store in text) or ``"invalid"``; ``fields`` names the columns when
    the database said which.
    """

    def __init__(
        self,
        statement: str | None,
        params: Any,
        orig: BaseException,
        *args: Any,
        problem: str = "invalid",
        fields: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(statement, params, orig, *args, **kwargs)
        self.problem = problem
        self.fields: list[str] = list(fields)

    def __reduce__(self) -> tuple[Any, ...]:
        rebuilt, args, state = cast("tuple[Any, Any, dict[str, Any]]", super().__reduce__())
        return rebuilt, args, {**state, "problem": self.problem, "fields": self.fields}


# -- recognising an unavailable database ------------------------------------------------

# PostgreSQL SQLSTATEs: class 08 connection exception, 53 insufficient resources (too
# many clients), 57P operator intervention (admin shutdown 57P01, crash 57P02, cannot
# connect now 57P03), 57014 a statement cancelled (statement_timeout), 55P03 a lock
# not granted in time (lock_timeout), 25P03 an idle transaction timed out; 40001/40P01
# serialization failure and deadlock, which a retry resolves. MySQL/MariaDB report
# some of them too (40001 deadlock, 08S01 lost connection).
_SQLSTATE_UNAVAILABLE = ("08", "53", "57P", "57014", "55P03", "25P03", "40001", "40P01")
# MySQL/MariaDB: too many connections, shutdown in progress, lock wait timeout, deadlock,
# connection killed, statement timeouts (MariaDB 1969, MySQL 3024), and the client's
# "cannot connect / server gone away / lost connection" family.
_MYSQL_UNAVAILABLE = {
    1040, 1053, 1205, 1213, 1927, 1969, 2002, 2003, 2005, 2006, 2013, 2055, 3024, 4031
}  # fmt: skip
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")


def _sqlstate(orig: BaseException) -> str | None:
    """The SQLSTATE the driver gave, on its error or (asyncpg, translated) on the cause."""
    for error in (orig, orig.__cause__):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def _is_unavailable(context: ExceptionContext) -> bool:
    orig = context.original_exception
    if isinstance(orig, OSError):
        # Raised by the driver itself, not as a DB-API error: asyncpg's command_timeout
        # (TimeoutError) and a socket that broke mid-statement.
        return True
    if not isinstance(context.sqlalchemy_exception, sa_exc.DBAPIError):
        return False
    # Failing to connect at all (no connection yet) or losing the connection.
    if context.connection is None or context.is_disconnect:
        return True
    sqlstate = _sqlstate(orig)
    if sqlstate is not None and sqlstate.startswith(_SQLSTATE_UNAVAILABLE):
        return True
    code = orig.args[0] if orig.args else None
    if code in _MYSQL_UNAVAILABLE:
        return True
    return str(orig).lower().startswith(_SQLITE_UNAVAILABLE)


def _on_error(context: ExceptionContext) -> BaseException | None:
    if _is_too_long(context.original_exception):
        return _too_long(context)
    if _is_unavailable(context):
        return _unavailable(context)
    problem = _data_problem(context)
    if problem is not None:
        return _invalid_value(context, problem)
    return None


def _unavailable(context: ExceptionContext) -> DatabaseUnavailable:
    if context.sqlalchemy_exception is None or context.is_pre_ping:
        # A statement that timed out (or broke) on the client side leaves the connection
        # in an unknown state: a query may still run, a cancel may be pending. It is
        # closed rather than reused, so nothing more, above all no COMMIT, is ever sent
        # on it; a failed pre-ping makes the pool open a fresh connection instead.
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False
    return DatabaseUnavailable(
        context.statement,
        context.parameters,
        context.original_exception,
        connection_invalidated=context.is_disconnect,
    )


# -- recognising a value too long for its column ----------------------------------------

# PostgreSQL 22001 string_data_right_truncation ("value too long for type character
# varying(5)", no column named); MySQL/MariaDB 1406 ("Data too long for column 'name'").
_MYSQL_TOO_LONG = re.compile(r"Data too long for column '([^']+)'")


def _is_too_long(orig: BaseException) -> bool:
    cause = orig.__cause__
    if getattr(cause, "sqlstate", None) == "22001" or getattr(orig, "sqlstate", None) == "22001":
        return True
    return bool(orig.args) and orig.args[0] == 1406


def _too_long(context: ExceptionContext) -> ValueTooLong:
    orig = context.original_exception
    table = _statement_table(context)
    found = _MYSQL_TOO_LONG.search(str(orig.args[-1])) if orig.args else None
    if found is not None:
        fields = [found.group(1)]
    elif table is not None:
        fields = _overlong_columns(table, _bound_values(context))
    else:
        fields = []
    lengths = {}
    if table is not None:
        for name in fields:
            length = getattr(table.c[name].type, "length", None) if name in table.c else None
            if isinstance(length, int):
                lengths[name] = length
    return ValueTooLong(context.statement, context.parameters, orig, fields=fields, lengths=lengths)


def _statement_table(context: ExceptionContext) -> Any:
    """The table an INSERT or UPDATE writes to, when SQLAlchemy compiled the statement."""
    compiled = getattr(context.execution_context, "compiled", None)
    statement = getattr(compiled, "statement", None)
    table = getattr(statement, "table", None)
    return table if getattr(table, "c", None) is not None else None


def _bound_values(context: ExceptionContext) -> list[dict[str, Any]]:
    # By bind name, before the driver's positional form: an INSERT or SET binds a column
    # under its own key; PostgreSQL does not say which column, so prow finds it by length.
    rows = getattr(context.execution_context, "compiled_parameters", None)
    return [dict(row) for row in rows or ()]


def _overlong_columns(table: Any, rows: list[dict[str, Any]]) -> list[str]:
    names = []
    for column in table.c:
        length = getattr(column.type, "length", None)
        if not isinstance(length, int):
            continue
        for row in rows:
            value = row.get(column.key)
            if isinstance(value, str) and len(value) > length:
                names.append(column.name)
                break
    return names


# -- recognising other values the database refuses ---------------------------------------

# SQLSTATE class 22 is "data exception"; these are the ones worth naming to the client.
# asyncpg refuses an int beyond its parameter's type before sending it, as 22000 with
# "out of int32 range" (or int16/int64) in its message.
_DATA_KINDS = {
    "22003": "out_of_range",  # numeric_value_out_of_range
    "22008": "out_of_range",  # datetime_field_overflow
    "22021": "invalid_character",  # character_not_in_repertoire (a NUL in a string)
    "22P05": "invalid_character",  # untranslatable_character
}
_MYSQL_DATA_KINDS = {1264: "out_of_range", 1366: "invalid_character"}
_MYSQL_COLUMN = re.compile(r"for column [`']?([^`'\s]+)[`']?")


def _data_problem(context: ExceptionContext) -> str | None:
    """``"out_of_range"``, ``"invalid_character"`` or ``"invalid"`` for a data error."""
    orig = context.original_exception
    if isinstance(orig, OverflowError):
        return "out_of_range"  # sqlite3: an int beyond 64 bits cannot even be bound
    code = orig.args[0] if orig.args else None
    if isinstance(code, int) and code in _MYSQL_DATA_KINDS:
        return _MYSQL_DATA_KINDS[code]
    sqlstate = _sqlstate(orig)
    if sqlstate is not None and sqlstate.startswith("22"):
        if sqlstate == "22000" and "range" in str(orig):
            return "out_of_range"
        return _DATA_KINDS.get(sqlstate, "invalid")
    if isinstance(context.sqlalchemy_exception, sa_exc.DataError):
        return "invalid"
    return None


def _invalid_value(context: ExceptionContext, problem: str) -> InvalidValue:
    orig = context.original_exception
    found = _MYSQL_COLUMN.search(str(orig.args[-1])) if orig.args else None
    fields = [found.group(1)] if found is not None else []
    return InvalidValue(context.statement, context.parameters, orig, problem=problem, fields=fields)


def _on_connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        # asyncpg lets socket errors (refused, unknown host, timeout) escape untranslated;
        # as the driver's own error they reach SQLAlchemy's handling like any other.
        raise _driver_error(dialect, exc) from exc


def _driver_error(dialect: Dialect, exc: OSError) -> Exception:
    error: Exception = dialect.loaded_dbapi.OperationalError(str(exc) or type(exc).__name__)
    return error


def _guard_ping(dialect: Dialect) -> None:
    # The pool's pre-ping handles only DB-API errors: asyncpg's command_timeout on a
    # frozen server raises TimeoutError, which would escape the pool as a 500. As the
    # driver's OperationalError it reaches handle_error, and the pool reconnects.
    ping = dialect.do_ping

    def do_ping(dbapi_connection: Any) -> bool:
        try:
            return ping(dbapi_connection)
        except OSError as exc:
            raise _driver_error(dialect, exc) from exc

    dialect.do_ping = do_ping  # type: ignore[method-assign]


def guard_engine(engine: AsyncEngine) -> None:
    """Make ``engine`` raise :class:`DatabaseUnavailable` when the database is unavailable.

    Also :class:`ValueTooLong` and :class:`InvalidValue` for input the database refuses.
    """
    event.listen(engine.sync_engine, "do_connect", _on_connect)
    event.listen(engine.sync_engine, "handle_error", _on_error)
    _guard_ping(engine.dialect)


# -- reading an integrity error ----------------------------------------------------------


@dataclass
class Violation:
    """What an ``IntegrityError`` says: which rule was broken, on which fields."""

    kind: str  # "unique", "foreign_key", "referenced", "not_null", "check" or "unknown"
    fields: list[str] = field(default_factory=list)
    constraint: str | None = None


def parse_integrity_error(error: sa_exc.IntegrityError) -> Violation:
    """Read the broken rule out of the driver's error, whichever database raised it."""
    orig = error.orig
    cause = orig.__cause__ if orig is not None else None
    if getattr(cause, "sqlstate", None) is not None:
        violation = _parse_postgresql(cause)
    elif orig is not None and orig.args and isinstance(orig.args[0], int):
        violation = _parse_mysql(orig.args[0], str(orig.args[-1]))
    else:
        violation = _parse_sqlite(str(orig), error.statement or "")
    if violation.constraint and not violation.fields:
        violation.fields = _columns_of(violation.constraint)
    violation.fields = list(dict.fromkeys(_reported_field(name) for name in violation.fields))
    return violation


_PG_KINDS = {"23505": "unique", "23503": "foreign_key", "23502": "not_null", "23514": "check"}
_PG_KEY = re.compile(r"Key \((.+?)\)=")


def _parse_postgresql(cause: Any) -> Violation:
    kind = _PG_KINDS.get(cause.sqlstate, "unknown")
    detail = str(getattr(cause, "detail", None) or "")
    if kind == "foreign_key" and "still referenced" in detail:
        kind = "referenced"
    if cause.column_name:
        fields = [cause.column_name]
    else:
        found = _PG_KEY.search(detail)
        fields = [name.strip().strip('"') for name in found.group(1).split(",")] if found else []
    return Violation(kind, fields, cause.constraint_name)


_MYSQL_KINDS = {1062: "unique", 1452: "foreign_key", 1451: "referenced", 1048: "not_null"}
_MYSQL_PATTERNS = (
    re.compile(r"for key '(?:[^'.]*\.)?(?P<constraint>[^']+)'"),  # 1062; MySQL 8 adds "table."
    re.compile(r"CONSTRAINT `(?P<constraint>[^`]+)` FOREIGN KEY \((?P<fields>[^)]*)\)"),
    re.compile(r"Column '(?P<fields>[^']+)' cannot be null"),
    re.compile(r"[Cc]heck constraint '(?P<constraint>[^']+)' is violated"),  # MySQL 3819
    re.compile(r"CONSTRAINT `(?P<constraint>[^`]+)` failed"),  # MariaDB 4025
)


def _parse_mysql(code: int, message: str) -> Violation:
    kind = _MYSQL_KINDS.get(code, "check" if code in (3819, 4025) else "unknown")
    for pattern in _MYSQL_PATTERNS:
        found = pattern.search(message)
        if found is not None:
            groups = found.groupdict()
            fields = [f.strip(" `") for f in (groups.get("fields") or "").split(",") if f.strip()]
            return Violation(kind, fields, groups.get("constraint"))
    return Violation(kind)


_SQLITE = re.compile(
    r"(?P<kind>UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed(?:: (?P<on>.+))?"
)
_SQLITE_KINDS = {"UNIQUE": "unique", "NOT NULL": "not_null", "CHECK": "check"}


def _parse_sqlite(message: str, statement: str) -> Violation:
    found = _SQLITE.search(message)
    if found is None:
        return Violation("unknown")
    kind = _SQLITE_KINDS.get(found.group("kind"), "foreign_key")
    if kind == "foreign_key" and statement.lstrip()[:6].upper() == "DELETE":
        # SQLite names neither the key nor the direction; a DELETE can only break a
        # foreign key by removing a row that others still point at.
        kind = "referenced"
    on = found.group("on")
    if on is None:
        return Violation(kind)
    if kind == "check":
        return Violation(kind, constraint=on)
    return Violation(kind, [part.strip().rsplit(".", 1)[-1] for part in on.split(",")])


def _reported_field(column: str) -> str:
    """The field a client knows ``column`` by: a column computed from another one, marked
    ``info={"derived_from": "username"}`` (such as ``username_key``), is reported as it."""
    for table in Model.metadata.tables.values():
        found = table.c.get(column)
        if found is not None and "derived_from" in found.info:
            return str(found.info["derived_from"])
    return column


def _columns_of(constraint: str) -> list[str]:
    """The columns of the model constraint or index called ``constraint``, if prow knows it."""
    for table in Model.metadata.tables.values():
        items: list[ColumnCollectionConstraint | Index] = [
            item for item in table.constraints if isinstance(item, ColumnCollectionConstraint)
        ]
        for item in [*items, *table.indexes]:
            if item.name == constraint:
                return [column.name for column in item.columns]
    return []


# -- the answers ------------------------------------------------------------------------

_MESSAGES = {
    "unique": "{fields} must be unique: another row already has this value.",
    "foreign_key": "{fields} refers to a row that does not exist.",
    "referenced": "This row is still referenced by other rows.",
    "not_null": "{fields} must not be null.",
    "check": "The value breaks the rule {constraint}.",
    "unknown": "The change conflicts with the data already stored.",
}
# When the database does not say which field (SQLite's foreign keys, a CHECK without a name).
_VAGUE = {
    "unique": "Another row already has this value.",
    "foreign_key": "A referenced row does not exist, or this row is still referenced.",
    "not_null": "A required value is missing.",
    "check": "The value breaks a rule of the table.",
}


def _message(violation: Violation) -> str:
    named_check = violation.kind == "check" and violation.constraint
    if not violation.fields and violation.kind in _VAGUE and not named_check:
        return _VAGUE[violation.kind]
    fields = ", ".join(violation.fields)
    return _MESSAGES[violation.kind].format(fields=fields, constraint=violation.constraint)


def integrity_error_answer(error: sa_exc.IntegrityError) -> HTTPError:
    """The ``HTTPError`` (409 or 422) that explains an integrity error to the client."""
    violation = parse_integrity_error(error)
    extra: dict[str, Any] = {"violation": violation.kind, "fields": violation.fields}
    if violation.constraint:
        extra["constraint"] = violation.constraint
    status = 422 if violation.kind in ("not_null", "check") else 409
    return HTTPError(status, _message(violation), extra=extra)


def too_long_answer(error: ValueTooLong) -> HTTPError:
    """The 422 that names the columns whose value is too long (never echoing the value)."""
    fields, lengths = error.fields, error.lengths
    if not fields:
        detail = "A value is longer than its column allows."
    else:
        limits = [
            f"{name} (at most {lengths[name]} characters)" if name in lengths else name
            for name in fields
        ]
        detail = f"The value is too long for {', '.join(limits)}."
    extra = {"violation": "too_long", "fields": fields, "max_lengths": lengths}
    return HTTPError(422, detail, title="Value too long", extra=extra)


_INVALID_MESSAGES = {
    "out_of_range": "A number is outside the range the database can store{on}.",
    "invalid_character": (
        "A text value contains a character the database cannot store{on} "
        "(such as the NUL character)."
    ),
    "invalid": "A value cannot be stored or compared by the database{on}.",
}


def invalid_value_answer(error: InvalidValue) -> HTTPError:
    """The 422 that says what the database refused (never echoing the value)."""
    on = f" (in {', '.join(error.fields)})" if error.fields else ""
    template = _INVALID_MESSAGES.get(error.problem, _INVALID_MESSAGES["invalid"])
    extra = {"violation": error.problem, "fields": error.fields}
    return HTTPError(422, template.format(on=on), title="Invalid value", extra=extra)


def _unavailable_answer() -> HTTPError:
    return HTTPError(
        503,
        "The database is unavailable; try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _not_found(request: Request, exc: sa_exc.NoResultFound) -> Response:
    return await _respond(request, HTTPError(404, "No row was found."))


async def _integrity(request: Request, exc: sa_exc.IntegrityError) -> Response:
    return await _respond(request, integrity_error_answer(exc))


async def _too_long_handler(request: Request, exc: ValueTooLong) -> Response:
    return await _respond(request, too_long_answer(exc))


async def _invalid_value_handler(request: Request, exc: InvalidValue) -> Response:
    return await _respond(request, invalid_value_answer(exc))


async def _unavailable_handler(request: Request, exc: Exception) -> Response:
    # The operator needs to know; the client only needs to know when to retry.
    logger.warning("database unavailable: %s", exc)
    return await _respond(request, _unavailable_answer())


async def _respond(request: Request, error: HTTPError) -> Response:
    # Through the app, so a handler the user registered for the status still applies.
    app: App = request.app
    response, _ = await app.exception_response(request, error)
    return response


def install_error_handlers(app: App) -> None:
    """Answer database errors 404/409/422/503 on ``app``, keeping handlers the user set;
    an unloaded relationship's 500 says which one and how to load it."""
    if explain_unloaded not in EXPLAINERS:
        EXPLAINERS.append(explain_unloaded)
    handlers = app.exception_handlers
    handlers.setdefault(sa_exc.NoResultFound, _not_found)
    handlers.setdefault(sa_exc.IntegrityError, _integrity)
    handlers.setdefault(ValueTooLong, _too_long_handler)
    handlers.setdefault(InvalidValue, _invalid_value_handler)
    handlers.setdefault(DatabaseUnavailable, _unavailable_handler)
    handlers.setdefault(sa_exc.TimeoutError, _unavailable_handler)
    handlers.setdefault(sa_exc.DisconnectionError, _unavailable_handler)
