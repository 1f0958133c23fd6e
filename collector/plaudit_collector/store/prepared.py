"""Statements of the feedback write path, compiled once per dialect and run on the driver's cursor.

A single rating runs about ten small statements. Through ``Connection.execute`` each one costs SQLAlchemy about
40 µs of Python around the driver's own call (a cache lookup, an execution context, a result object), about 40% of
the write's CPU on SQLite (0.78 → 0.47 ms per single item without it); psycopg also builds a column object per
column each time a result's description is read, which SQLAlchemy does on every execution. Here a statement is
compiled once per dialect (and, for an insert or update, per set of parameter names) with SQLAlchemy's own
compiler; each call only binds the values through the column types' own processors, runs the driver's cursor and
builds plain rows.

Rows are named tuples with the statement's column keys: ``row.name``, ``row[0]`` and ``row._mapping["name"]``
read as a SQLAlchemy ``Row`` does. Failures read as through ``Connection.execute``: the driver's errors as
SQLAlchemy's (``IntegrityError``, ``OperationalError``...), a value a column type cannot bind as a
``StatementError``, and a lost connection is invalidated.

:func:`rows_together` runs several statements at once, reads and writes (:func:`run_together` writes only): on
PostgreSQL in one pipeline, one round trip where each would cost one.

Only for statements built once and kept (module constants or cached per dialect): plans are kept per statement
(up to :data:`MAX_PLANS`). A statement this cannot run as compiled (Python-side column defaults, expanding ``IN``
lists, literals without a fixed value) is handed to ``Connection.execute`` instead, whose rows read alike.
"""

from __future__ import annotations

import collections
import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from sqlalchemy import Connection, DateTime
from sqlalchemy import exc as sa_exc

__all__ = ["row_type", "rows", "rows_together", "run", "run_together", "scalar"]

Params = dict[str, Any]


class _Plan:
    """One statement compiled for one dialect: its SQL, how to order and convert its parameters, and (after the
    first execution that returned rows) how to convert and name its columns."""

    __slots__ = (
        "keys",
        "make_row",
        "names",
        "pairs",
        "pick",
        "positional",
        "processors",
        "readers",
        "required",
        "runnable",
        "sql",
        "statement",
        "types",
    )

    def __init__(self, statement: Any, dialect: Any, names: tuple[str, ...] | None) -> None:
        self.statement = statement  # kept, so the id the plan is cached under is never reused
        compiled = statement.compile(dialect=dialect, column_keys=list(names) if names is not None else None)
        self.sql: str = compiled.string
        # Literals rendered into the SQL (day bounds a planner prunes partitions with) are part of a kept
        # statement: rendered once, here, instead of on every execution.
        literals = {compiled.bind_names[bind]: bind for bind in compiled.literal_execute_params}
        fixed = all(bind.value is not None and bind.callable is None for bind in literals.values())
        if literals and fixed:
            for name, bind in literals.items():
                render = bind.type.dialect_impl(dialect).literal_processor(dialect) or str
                self.sql = self.sql.replace(f"__[POSTCOMPILE_{name}]", render(bind.value))
        self.positional: bool = compiled.positional
        order = list(compiled.positiontup or ()) if self.positional else list(compiled.binds)
        order = [name for name in order if name not in literals]
        binds = [compiled.binds[name] for name in order]
        self.names = tuple(order)
        self.pick: Callable[[Params], Any] | None = None  # every value at once, as a tuple
        if len(order) > 1:
            self.pick = operator.itemgetter(*order)
        elif order:
            only = order[0]
            self.pick = lambda params: (params[only],)
        self.pairs = tuple((bind_name, bind.value) for bind_name, bind in zip(order, binds, strict=True))
        self.required = frozenset(name for name, bind in zip(order, binds, strict=True) if bind.required)
        processors = (_processor(bind.type, dialect) for bind in binds)
        self.processors = tuple((i, process) for i, process in enumerate(processors) if process is not None)
        # as compiled, without SQLAlchemy's execution context: no Python-side defaults, no values computed per
        # execution, no lists or literals rendered into the SQL per execution
        self.runnable = not (
            any(bind.callable is not None for bind in binds)
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.post_compile_params
            or (literals and not fixed)
            or compiled.escaped_bind_names
        )
        columns = getattr(statement, "selected_columns", None)
        if columns is None and getattr(statement, "is_dml", False):
            columns = statement.exported_columns or None  # the RETURNING columns
        self.keys: list[str] | None = list(columns.keys()) if columns is not None else None
        self.types: list[Any] = [column.type for column in columns] if columns is not None else []
        self.readers: list[Callable[[Any], Any] | None] | None = None
        self.make_row: Any = None

    def bound(self, params: Params) -> Any:
        """The driver's parameters: positional or by name, each through its type's processor."""
        try:  # every parameter given (a row to insert names them all): read in one call
            values = list(self.pick(params)) if self.pick is not None else []
        except KeyError:  # some left to their defaults, or a required one missing
            if not params.keys() >= self.required:
                missing = sorted(self.required - params.keys())[0]
                raise sa_exc.InvalidRequestError(f"A value is required for bind parameter {missing!r}") from None
            get = params.get
            values = [get(name, default) for name, default in self.pairs]
        for i, process in self.processors:
            values[i] = process(values[i])
        return values if self.positional else dict(zip(self.names, values, strict=True))

    def read(self, dialect: Any, description: Sequence[Any] | None, fetched: list[Any]) -> list[Any]:
        if self.make_row is None:
            assert description is not None
            names = self.keys if self.keys is not None and len(self.keys) == len(description) else None
            if names is None:
                names = [column[0] for column in description]
                types: list[Any] = [None] * len(description)
            else:
                types = self.types
            readers = [
                kind.dialect_impl(dialect).result_processor(dialect, column[1]) if kind is not None else None
                for kind, column in zip(types, description, strict=True)
            ]
            self.readers = readers if any(reader is not None for reader in readers) else None
            self.make_row = row_type(tuple(names))
        make = self.make_row._make
        readers = self.readers
        if readers is None:
            return [make(values) for values in fetched]
        return [
            make([value if reader is None else reader(value) for reader, value in zip(readers, values, strict=True)])
            for values in fetched
        ]


def _processor(kind: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """A column type's bind processor. A datetime's remembers the last value it wrote: the rows of a request
    share one timestamp, which SQLite's processor would format again for each (a twentieth of a batch's CPU)."""
    process = kind.dialect_impl(dialect).bind_processor(dialect)
    if process is None or not isinstance(kind, DateTime):
        return process
    last: list[tuple[Any, Any]] = [(None, None)]

    def remembered(value: Any) -> Any:
        seen, written = last[0]  # one tuple, replaced whole: threads sharing the plan read a matching pair
        if value is seen and value is not None:
            return written
        written = process(value)
        last[0] = (value, written)
        return written

    return remembered


_ROW_CLASSES: dict[tuple[str, ...], Any] = {}


def row_type(names: tuple[str, ...]) -> Any:
    """A named tuple class for these column keys, with ``_mapping`` as on a SQLAlchemy ``Row``."""
    found = _ROW_CLASSES.get(names)
    if found is None:
        base = collections.namedtuple("Row", names, rename=True)  # type: ignore[misc]
        fields = base._fields

        def _mapping(self: Any) -> dict[str, Any]:
            return dict(zip(fields, self, strict=True))

        found = _ROW_CLASSES[names] = type("Row", (base,), {"__slots__": (), "_mapping": property(_mapping)})
    return found


MAX_PLANS = 4096
"""Plans kept before all are dropped and made again as used (a plan holds its statement alive, so the id it is
kept under is never another statement's)."""
_PLANS: dict[tuple[int, str, tuple[str, ...] | None], _Plan] = {}
_PLANNING = threading.Lock()


def _plan(conn: Connection, statement: Any, params: Params) -> _Plan:
    """The statement's plan for this connection's dialect (see :attr:`_Plan.runnable`)."""
    dialect = conn.dialect
    names = tuple(params) if getattr(statement, "is_dml", False) else None
    key = (id(statement), dialect.name, names)
    found = _PLANS.get(key)
    if found is not None:
        return found
    with _PLANNING:
        if len(_PLANS) >= MAX_PLANS:  # statements narrowed to days come and go (trace_days keeps 256)
            _PLANS.clear()
        if key not in _PLANS:
            _PLANS[key] = _Plan(statement, dialect, names)
        return _PLANS[key]


def _execute(conn: Connection, statement: Any, params: Params | list[Params]) -> tuple[Any, _Plan | None]:
    """(the driver's cursor, the plan), or (SQLAlchemy's result, None) for a statement it must run itself."""
    many = isinstance(params, list) and len(params) > 1  # psycopg's executemany opens a pipeline: costly for one
    first = params[0] if isinstance(params, list) else params
    plan = _plan(conn, statement, first)  # type: ignore[arg-type]
    if not plan.runnable:
        return conn.execute(statement, params), None
    dialect = conn.dialect
    bound = _bind(conn, plan, params, many)
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        if many:
            cursor.executemany(plan.sql, bound)
        else:
            cursor.execute(plan.sql, bound)
    except dialect.loaded_dbapi.Error as error:
        cursor.close()
        _raise_as_sqlalchemy(conn, error, plan.sql, bound, cursor)
    except BaseException:  # the driver's own refusals (a lone surrogate it cannot encode) pass through as they are
        cursor.close()
        raise
    return cursor, plan


def _bind(conn: Connection, plan: _Plan, params: Params | list[Params], many: bool) -> Any:
    """The values the driver takes for ``params``; a value its type cannot bind is SQLAlchemy's StatementError."""
    try:
        if many:
            return [plan.bound(each) for each in params]  # type: ignore[arg-type]
        return plan.bound(params[0] if isinstance(params, list) else params)
    except Exception as error:  # as SQLAlchemy reports a value its types could not bind
        dialect = conn.dialect
        raise sa_exc.DBAPIError.instance(
            plan.sql, params, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error


def _raise_as_sqlalchemy(conn: Connection, error: Exception, sql: str, bound: Any, cursor: Any) -> NoReturn:
    """Raise a driver's error as SQLAlchemy does, invalidating a connection the database has dropped."""
    dialect = conn.dialect
    base = dialect.loaded_dbapi.Error
    lost = bool(dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor))
    if lost:
        conn.invalidate(error)
    raise sa_exc.DBAPIError.instance(sql, bound, error, base, connection_invalidated=lost, dialect=dialect) from error


def rows(conn: Connection, statement: Any, params: Params | None = None) -> list[Any]:
    """Run ``statement`` with ``params`` in the connection's transaction; its rows (see the module's docstring),
    none for a statement that returns no rows."""
    cursor, plan = _execute(conn, statement, params or {})
    if plan is None:  # SQLAlchemy ran it: ``cursor`` is its result
        return cursor.all() if cursor.returns_rows else []  # type: ignore[no-any-return]
    try:
        return _fetched(conn.dialect, plan, cursor) if _has_rows(cursor) else []
    except conn.dialect.loaded_dbapi.Error as error:
        _raise_as_sqlalchemy(conn, error, plan.sql, None, cursor)
    finally:
        cursor.close()


def _fetched(dialect: Any, plan: _Plan, cursor: Any) -> list[Any]:
    """The rows of an executed cursor, through its plan. The description is read once per plan: psycopg builds a
    column object per column each time it is asked."""
    fetched = cursor.fetchall()
    description = cursor.description if plan.make_row is None else None
    return plan.read(dialect, description, fetched)


def rows_together(conn: Connection, queries: Sequence[tuple[Any, Params | list[Params]]]) -> list[list[Any]]:
    """The rows of each ``(statement, params)``, in order, as :func:`rows` gives them (none for a statement that
    returns no rows; ``params`` a list: once per item, as :func:`run` takes it).

    On PostgreSQL the statements travel together in one pipeline: one round trip for all of them, where each
    would cost one on its own (the transaction's ``BEGIN``, when they are its first, still costs one before
    them). Each still runs after the one before it: a lock an earlier statement takes holds for the later ones.
    Elsewhere, or when one of them is for SQLAlchemy to run, they run one after another."""
    todo = [(statement, params) for statement, params in queries if params != []]
    plans = _pipelinable(conn, todo)
    if plans is None:
        return [_run_alone(conn, statement, params) if params != [] else [] for statement, params in queries]
    many = [isinstance(params, list) and len(params) > 1 for _, params in todo]
    bound = [_bind(conn, plan, params, each) for plan, (_, params), each in zip(plans, todo, many, strict=True)]
    dialect = conn.dialect
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    cursors: list[Any] = []
    try:
        with dbapi.pipeline():
            for plan, values, each in zip(plans, bound, many, strict=True):
                cursors.append(dbapi.cursor())
                if each:
                    cursors[-1].executemany(plan.sql, values)
                else:
                    cursors[-1].execute(plan.sql, values)
        found = iter(
            [
                _fetched(dialect, plan, cursor) if _has_rows(cursor) else []
                for plan, cursor in zip(plans, cursors, strict=True)
            ]
        )
        return [next(found) if params != [] else [] for _, params in queries]
    except dialect.loaded_dbapi.Error as error:
        sql = ";\n".join(plan.sql for plan in plans)
        _raise_as_sqlalchemy(conn, error, sql, bound, cursors[-1] if cursors else None)
    finally:
        for cursor in cursors:
            cursor.close()


def run_together(conn: Connection, statements: Sequence[tuple[Any, Params | list[Params]]]) -> None:
    """Run statements that return no rows, in order, as :func:`run` runs each: on PostgreSQL in one round trip
    (see :func:`rows_together`)."""
    rows_together(conn, statements)


def _pipelinable(conn: Connection, queries: Sequence[tuple[Any, Params | list[Params]]]) -> list[_Plan] | None:
    """The plans of ``queries`` when they can travel in one pipeline (PostgreSQL, two or more, each runnable as
    compiled); otherwise None."""
    if len(queries) < 2 or conn.dialect.name != "postgresql":
        return None
    plans = [_plan(conn, statement, params[0] if isinstance(params, list) else params) for statement, params in queries]
    return plans if all(plan.runnable for plan in plans) else None


def _run_alone(conn: Connection, statement: Any, params: Params | list[Params]) -> list[Any]:
    """One statement of :func:`rows_together` run on its own (a list of several: an executemany, no rows)."""
    if isinstance(params, list):
        if len(params) > 1:
            run(conn, statement, params)
            return []
        params = params[0]
    return rows(conn, statement, params)


def _has_rows(cursor: Any) -> bool:
    """Whether an executed cursor holds rows (a SELECT, or RETURNING), not a command's status. psycopg's is read
    from its result, as ``description`` builds a column object per column each time it is asked."""
    if not hasattr(cursor, "pgresult"):
        return cursor.description is not None
    result = cursor.pgresult
    return result is not None and result.status == _TUPLES_OK


_TUPLES_OK = 2
"""libpq's ``PGRES_TUPLES_OK``: a result with rows (``psycopg.pq.ExecStatus.TUPLES_OK``)."""


def run(conn: Connection, statement: Any, params: Params | list[Params] | None = None) -> int:
    """Run a statement that returns no rows (``params`` a list: once per item, as an executemany); the rows
    it changed, as the driver counts them (-1 where it does not say)."""
    if params == []:
        return 0
    cursor, plan = _execute(conn, statement, params if params is not None else {})
    if plan is None:  # SQLAlchemy ran it: ``cursor`` is its result
        return int(cursor.rowcount)
    count = int(cursor.rowcount)
    cursor.close()
    return count


def scalar(conn: Connection, statement: Any, params: Params | None = None) -> Any:
    """The first column of the first row, or None when there is none."""
    found = rows(conn, statement, params)
    return found[0][0] if found else None
