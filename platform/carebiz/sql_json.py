"""A record's small child rows as one JSON column of the record's own statement.

Reading a customer whole for an answer (its phones, e-mails, roles and tags) through the ORM
costs far more than the database takes: joined eager loads multiply the rows, and every row
becomes an object. :func:`child_rows` instead asks the database for a correlated JSON array of
``[value, …]`` arrays, which the result hands back as a Python list, so one plain row carries
the record and its lists. SQLite and PostgreSQL spell the aggregate differently; the
expression compiles to each one's own (``json_group_array`` / ``json_agg``).

SQLite before 3.44 cannot order inside an aggregate, so the rows come in no promised order:
put the sort key among the values and sort in Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class json_rows(FunctionElement[Any]):  # noqa: N801 - an SQL function's name, as SQLAlchemy's
    """Aggregate: a JSON array holding one ``[value, …]`` array per row; ``[]`` when there
    are none (``json_agg`` of no rows is NULL on PostgreSQL)."""

    type = JSON()
    name = "json_rows"
    inherit_cache = True


@compiles(json_rows)
def _json_rows_sqlite(element: json_rows, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler: Any, **kw: Any) -> str:
    return (f"coalesce(json_agg(json_build_array({compiler.process(element.clauses, **kw)})),"
            " '[]'::json)")


def child_rows(*values: ColumnElement[Any], where: ColumnElement[Any]) -> Any:
    """A scalar subquery: the JSON rows of ``values`` from the rows ``where`` selects (a
    condition on the parent, which the subquery correlates to the enclosing statement)."""
    stmt: Select[Any] = select(json_rows(*values)).where(where)
    return stmt.scalar_subquery()
