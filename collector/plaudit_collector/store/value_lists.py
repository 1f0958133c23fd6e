"""``column IN (a list of values)`` as one bound parameter, for statements built once and run per request.

SQLAlchemy's expanding ``IN`` re-renders the statement's SQL for every execution (a bound value per list
item), which costs a feedback write more than its queries take. Here the list travels as one value: a
PostgreSQL array (``column = ANY(:list)``, which uses the column's index) or, on SQLite, a JSON array read by
``json_each`` (``column IN (SELECT value FROM json_each(:list))``, which probes the index per value).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Text, any_, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeDecorator, TypeEngine


class _JsonList(TypeDecorator[Any]):
    """A Python list bound as SQLite JSON text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Iterable[Any] | None, dialect: Any) -> str:
        return json.dumps(list(value or ()))


def one_of(column: Any, name: str, dialect: str, *, integers: bool = False) -> ColumnElement[bool]:
    """``column`` equals one of the values bound to ``name`` (a list; an empty list matches nothing)."""
    if dialect == "postgresql":
        element: TypeEngine[Any] = BigInteger() if integers else Text()
        return column == any_(bindparam(name, type_=ARRAY(element)))  # type: ignore[no-any-return]
    values = select(literal_column("value")).select_from(func.json_each(bindparam(name, type_=_JsonList())))
    return column.in_(values)  # type: ignore[no-any-return]
