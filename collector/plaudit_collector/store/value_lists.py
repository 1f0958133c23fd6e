"""``column IN (a list of values)`` as one bound parameter, for statements built once and run per request.

SQLAlchemy's expanding ``IN`` re-renders the statement's SQL for every execution (a bound value per list
item), which costs a feedback write more than its queries take. Here the list travels as one value: a
PostgreSQL array (``column = ANY(:list)``, which uses the column's index) or, on SQLite, a JSON array read by
``json_each`` (``column IN (SELECT value FROM json_each(:list))``, which probes the index per value).
:func:`rows_of` selects rows by a composite key: parallel arrays through ``unnest`` on PostgreSQL, a JSON array
of arrays joined to the table on SQLite; bind its value with :func:`rows_value`. :func:`insert_many`
inserts many rows on PostgreSQL as one statement reading a JSON document; :data:`ADVISORY_LOCKS` locks a list of keys.
"""

from __future__ import annotations

import functools
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Numeric,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.types import TypeDecorator, UserDefinedType

from plaudit_collector.store import prepared


class _PgArray(UserDefinedType[Any]):
    """PostgreSQL: a list bound as the text of an array (``{1,2,3}``), typed ``BIGINT[]`` or ``TEXT[]``.

    psycopg dumps a list parameter element by element in Python: a hundred integers took about 95 µs more
    than this joined text, a hundred 32-character strings about 135 µs more, and a batch of feedback binds
    several such lists. The text goes with the array type written on the placeholder (``%(ids)s::BIGINT[]``)
    and no type of its own, so the server reads it as that array: a constant the planner sees, as it sees a
    bound list. (A cast of typed text to an array is an expression the planner does not fold, and it planned
    the feedback write's reads worse.) None is an SQL NULL element; strings are quoted, so commas, braces,
    spaces and the word NULL stay data."""

    cache_ok = True
    render_bind_cast = True

    def __init__(self, integers: bool) -> None:
        self.integers = integers

    def get_col_spec(self, **_kw: Any) -> str:
        return "BIGINT[]" if self.integers else "TEXT[]"

    def bind_processor(self, dialect: Any) -> Callable[[Any], str]:
        return _int_array if self.integers else _text_array


def _int_array(value: Iterable[Any] | None) -> str:
    return "{" + ",".join("NULL" if v is None else str(int(v)) for v in value or ()) + "}"


def _text_array(value: Iterable[Any] | None) -> str:
    return "{" + ",".join("NULL" if v is None else _quoted(v) for v in value or ()) + "}"


def _quoted(value: Any) -> str:
    """An array element in double quotes, inside which only ``"`` and the backslash need a backslash (a
    value that is not a string goes as its ``str``, as a number in a list of text did before)."""
    if not isinstance(value, str):
        value = str(value)
    if "\\" in value or '"' in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"'


ADVISORY_LOCKS = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest(:keys) AS k ORDER BY 1) AS s"
).bindparams(bindparam("keys", type_=_PgArray(integers=True)))
"""PostgreSQL: transaction-scoped advisory locks on a list of keys (``keys``), taken in sorted order (the aggregate
reads the sorted rows) so that two writers locking overlapping lists never wait on each other in a cycle. One row
comes back, the number of keys, instead of a row per key."""


class _JsonList(TypeDecorator[Any]):
    """A Python list bound as SQLite JSON text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Iterable[Any] | None, dialect: Any) -> str:
        values = list(value or ())
        if float not in set(map(type, values)):  # keys and ids: orjson writes them several times faster
            try:
                return orjson.dumps(values).decode()
            except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits, a lone surrogate
                pass
        return json.dumps(values)  # a float as json writes it (orjson writes NaN as null)


def one_of(column: Any, name: str, dialect: str, *, integers: bool = False) -> ColumnElement[bool]:
    """``column`` equals one of the values bound to ``name`` (a list; an empty list matches nothing)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=_PgArray(integers)))  # type: ignore[no-any-return]
    values = select(literal_column("value")).select_from(func.json_each(bindparam(name, type_=_JsonList())))
    return column.in_(values)  # type: ignore[no-any-return]


def rows_of(
    table: Table, selected: Sequence[Any], keys: Sequence[str], name: str, dialect: str, integers: Sequence[bool]
) -> Select[Any]:
    """A select of ``selected`` from ``table``'s rows whose ``keys`` columns equal one of the rows bound with
    :func:`rows_value` (``integers`` marks integer columns). Each bound row probes an index on ``keys``.

    On SQLite the bound rows are a table joined to ``table``: written as ``(keys...) IN (SELECT ... FROM
    json_each(...))`` the test was planned as a scan of every row sharing the leading columns, or of the
    whole table once analysed (2.4 ms for one score's cell among 10,000, against 8 µs joined)."""
    columns = [table.c[key] for key in keys]
    if dialect == "postgresql":
        arrays = [bindparam(f"{name}_{i}", type_=_PgArray(is_int)) for i, is_int in enumerate(integers)]
        values = func.unnest(*arrays).table_valued(*(f"v{i}" for i in range(len(keys)))).render_derived()
        return select(*selected).where(tuple_(*columns).in_(select(*values.c)))
    wanted = func.json_each(bindparam(name, type_=_JsonList())).table_valued("value").alias("wanted")
    on = and_(*(column == func.json_extract(wanted.c.value, f"$[{i}]") for i, column in enumerate(columns)))
    return select(*selected).select_from(wanted.join(table, on))


def rows_value(name: str, rows: Sequence[Sequence[Any]], width: int, dialect: str) -> dict[str, Any]:
    """The parameters :func:`rows_of` named ``name`` takes for ``rows`` (each of ``width`` values), each row once:
    SQLite's join would find a row bound twice twice, where PostgreSQL's ``IN`` finds it once."""
    distinct = dict.fromkeys(map(tuple, rows))
    if dialect == "postgresql":
        return {f"{name}_{i}": [row[i] for row in distinct] for i in range(width)}
    return {name: [list(row) for row in distinct]}


def insert_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, returning: bool | tuple[str, ...] = False
) -> list[Any]:
    """PostgreSQL: insert ``rows`` (all with the same keys) as one ``INSERT ... SELECT FROM
    jsonb_array_elements(:rows)``, the rows bound as a single JSON document, an array of each row's values in
    column order. The statement's text is the same for any number of rows, so it is parsed once per connection,
    and the rows travel in one round trip; an executemany sends a statement per row, which the server binds and
    runs one by one. One JSON text is also cheaper to bind than an array per column, whose every element the
    driver quotes on its own, and arrays of values cheaper for the server to read than objects naming each
    column (``json_to_recordset`` took twice as long for a hundred feedback rows: keys to hash, 2.6 times the bytes).
    orjson writes the document where it can (see :func:`_fast_doc`), else the standard encoder.
    Returns the stored rows (in no set order) when ``returning``: every column, or the columns it names (each
    column returned is fetched and converted for every row)."""
    statement, params = recordset_insert(table, rows, returning=returning)
    if returning:
        return prepared.rows(conn, statement, params)
    prepared.run(conn, statement, params)
    return []


def recordset_insert(
    table: Table, rows: list[dict[str, Any]], *, returning: bool | tuple[str, ...] = False
) -> tuple[Any, dict[str, Any]]:
    """The statement and parameters :func:`insert_many` runs, for a caller that runs them with others
    (:func:`prepared.run_together`)."""
    columns = tuple(rows[0])
    values = _values(rows, columns)
    doc = _fast_doc(rows, values, table)
    if doc is None:
        try:
            doc = _DUMPS(values)
        except ValueError:  # a float NaN or infinity, which JSON has no number for: a float column reads it as text
            json_columns = _json_columns(table)  # a JSON value cannot hold one
            plain = [name not in json_columns for name in columns]
            doc = _DUMPS([[_finite_or_text(v) if p else v for v, p in zip(row, plain, strict=True)] for row in values])
    return _recordset_insert(table, columns, returning), {"rows": doc}


def _values(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[Any]:
    """Each row's values in ``columns`` order (a key a row lacks is None)."""
    if len(columns) > 1:
        pick = operator.itemgetter(*columns)
        try:
            return [pick(row) for row in rows]
        except KeyError:
            pass
    return [[row.get(name) for name in columns] for row in rows]


def _fast_doc(rows: list[dict[str, Any]], values: list[Any], table: Table) -> str | None:
    """The rows' ``values`` (see :func:`recordset_insert`) as orjson writes them (ten times the standard encoder's
    speed), or None where a value needs the standard encoder: a float that is not finite in a numeric or JSON
    column (orjson would write ``null``), an integer past 64 bits, a key that is not a string, a dataclass."""
    floats, json_columns = _float_columns(table), _json_columns(table)
    for row in rows:
        for name in floats:
            value = row.get(name)
            if isinstance(value, float) and not math.isfinite(value):
                return None
        for name in json_columns:
            value = row.get(name)
            if value is not None and not isinstance(value, (str, bool, int)) and not _all_finite(value):
                return None
    try:
        return orjson.dumps(
            values,
            default=_jsonable,
            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS,
        ).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None


def _all_finite(value: Any) -> bool:
    """No NaN or infinity anywhere in a JSON value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return True


@functools.cache
def _float_columns(table: Table) -> tuple[str, ...]:
    """The columns that may hold a float: numeric types, directly or under a TypeDecorator."""
    types = ((c.name, c.type.impl if isinstance(c.type, TypeDecorator) else c.type) for c in table.c)
    return tuple(name for name, kind in types if isinstance(kind, (Numeric, Float)))


def _jsonable(value: Any) -> str:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_DUMPS = json.JSONEncoder(default=_jsonable, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode


def _finite_or_text(value: Any) -> Any:
    return str(value) if isinstance(value, float) and not math.isfinite(value) else value


@functools.cache
def _json_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.c if c.type.__class__.__name__ in ("JSON", "JSONB", "JSONType"))


@functools.cache
def _recordset_insert(table: Table, columns: tuple[str, ...], returning: bool | tuple[str, ...]) -> Any:
    """The statement :func:`insert_many` runs. Each value is read from its row's array as text and cast to its
    column's type without the column's length or precision, so a value the column cannot hold fails as it would
    in a plain insert (a cast to ``VARCHAR(n)`` would cut a longer string short). A JSON column takes the JSON
    value as it is: ``null`` stays JSON ``null``, as SQLAlchemy stores None in a JSON column. The returned columns
    are declared with the table's types, so their values read back as the table's columns do (JSON, datetimes)."""
    from sqlalchemy.dialects import postgresql

    dialect, json_columns = postgresql.dialect(), _json_columns(table)

    def value(at: int, name: str) -> str:
        if name in json_columns:
            return f"(e -> {at})"
        kind = re.sub(r"\s*\([^)]*\)", "", table.c[name].type.compile(dialect=dialect))  # VARCHAR(n): VARCHAR
        return f"(e ->> {at})" if kind in ("VARCHAR", "TEXT") else f"CAST(e ->> {at} AS {kind})"

    picked = ", ".join(value(at, name) for at, name in enumerate(columns))
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT {picked} "
        f"FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS e"
    )
    if not returning:
        return statement
    back = [c.name for c in table.c] if returning is True else list(returning)
    listed = ", ".join(f'"{name}"' for name in back)
    returned = text(f"{statement.text} RETURNING {listed}")
    return returned.columns(*(table.c[name] for name in back))
