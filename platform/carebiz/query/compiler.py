"""Condition trees (JSON) to SQLAlchemy expressions.

A node is ``{"field": F, "op": OP, "value": V}`` or a group ``{"and": [nodes]}`` /
``{"or": [nodes]}``. Only registered fields and their type's operators are accepted, values
become bound parameters, and every mistake is reported at once under the JSON path of the bad
node (``where.and[1].op``), so a client can point at it.

Nothing here knows Flask: the business timezone and "now" come in a :class:`Context`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import Column, Integer, and_, case, cast, func, literal, or_, true
from sqlalchemy import String as SqlString

from carebiz.errors import ValidationFailed
from carebiz.query import operators as ops

MAX_NODES = 200
MAX_DEPTH = 10
MAX_SORT = 5
DATE_BUCKETS = ("day", "week", "month", "quarter", "year")


class QueryError(ValidationFailed):
    """A condition tree, sort or grouping that cannot be run; ``errors`` maps JSON paths to
    what is wrong there."""

    code = "invalid_query"


@dataclass
class Context:
    source: Any
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    now: dt.datetime | None = None
    dialect: str = "sqlite"

    @property
    def today(self) -> dt.date:
        now = self.now or dt.datetime.now(dt.UTC)
        return now.astimezone(self.tz).date()


def fields_of(source: Any) -> dict[str, Any]:
    return {f.name: f for f in source.fields}


def column_of(source: Any, qfield: Any) -> Any:
    """The SQL expression of ``qfield`` in ``source``."""
    column = qfield.column
    if column is None:
        return getattr(source.model, qfield.name)
    if callable(column) and not hasattr(column, "__clause_element__"):
        return column(source.model)
    return column


def joins_of(source: Any, names: set[str] | None = None) -> list[tuple[Any, Any]]:
    """The distinct ``(target, onclause)`` joins the source's fields need, in field order;
    with ``names``, only those of the named fields (a join nobody reads costs a lookup per
    row over a million rows)."""
    seen: list[tuple[Any, Any]] = []
    for qfield in source.fields:
        if names is not None and qfield.name not in names:
            continue
        if qfield.join is not None and all(qfield.join[0] is not t for t, _on in seen):
            seen.append(tuple(qfield.join))
    return seen


def fields_in(node: Any) -> set[str]:
    """Names of the fields a condition tree refers to (valid or not: compiling checks)."""
    if isinstance(node, dict):
        found = {node["field"]} if isinstance(node.get("field"), str) else set()
        for key in ("and", "or"):
            for child in node.get(key) or [] if isinstance(node.get(key), list) else []:
                found |= fields_in(child)
        return found
    return set()


def text_fields(source: Any) -> set[str]:
    return {f.name for f in source.fields if f.type == ops.TEXT}


def _field_names(source: Any) -> str:
    return ", ".join(f.name for f in source.fields)


def _unknown_field(source: Any, name: Any) -> str:
    return _("unknown field '%(name)s': use %(fields)s", name=name,
              fields=_field_names(source))


class _Compiler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.fields = fields_of(ctx.source)
        self.errors: dict[str, str] = {}
        self.count = 0

    def node(self, node: Any, path: str, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            self.errors.setdefault(path, _("too many conditions (at most %(n)s)", n=MAX_NODES))
            return None
        if depth > MAX_DEPTH:
            self.errors[path] = _("groups nested too deep (at most %(n)s levels)", n=MAX_DEPTH)
            return None
        if not isinstance(node, dict):
            self.errors[path] = _('expected a condition {"field", "op", "value"} or a group '
                                   '{"and": [...]} / {"or": [...]}')
            return None
        groups = [key for key in ("and", "or") if key in node]
        if groups:
            return self.group(node, groups, path, depth)
        return self.condition(node, path)

    def group(self, node: dict[str, Any], groups: list[str], path: str, depth: int) -> Any:
        if len(node) != 1:
            self.errors[path] = _("a group has exactly one key, 'and' or 'or'")
            return None
        key = groups[0]
        children = node[key]
        if not isinstance(children, list) or not children:
            self.errors[f"{path}.{key}"] = _("expected a non-empty list of conditions")
            return None
        parts = [self.node(child, f"{path}.{key}[{i}]", depth + 1)
                 for i, child in enumerate(children)]
        if any(part is None for part in parts):
            return None
        return and_(*parts) if key == "and" else or_(*parts)

    def condition(self, node: dict[str, Any], path: str) -> Any:
        extra = sorted(set(node) - {"field", "op", "value"})
        if extra:
            self.errors[f"{path}.{extra[0]}"] = _(
                "unknown key '%(key)s': a condition has field, op and value", key=extra[0])
            return None
        name, op = node.get("field"), node.get("op")
        qfield = self.fields.get(name) if isinstance(name, str) else None
        if qfield is None:
            self.errors[f"{path}.field"] = _unknown_field(self.ctx.source, name)
            return None
        allowed = ops.operators_for(qfield)
        if op not in allowed:
            self.errors[f"{path}.op"] = _(
                "unknown operator '%(op)s' for field %(field)s (%(type)s): use %(ops)s",
                op=op, field=name, type=qfield.type, ops=", ".join(allowed))
            return None
        try:
            value = ops.check_value(qfield, op, node.get("value"), self.ctx.tz)
        except ops.BadValue as exc:
            self.errors[f"{path}.value"] = _("%(field)s %(op)s: %(problem)s", field=name,
                                              op=op, problem=str(exc))
            return None
        if op == "starts_with" and qfield.prefix is not None:
            return qfield.prefix(value, self.ctx.dialect)
        column = column_of(self.ctx.source, qfield)
        return ops.build(qfield, column, op, value, self.ctx.today, self.ctx.tz)


def compile_where(ctx: Context, where: Any, path: str = "where") -> Any:
    """The SQL condition for the tree ``where`` (``None`` or ``{}``: every row)."""
    if where is None or where == {}:
        return true()
    compiler = _Compiler(ctx)
    expression = compiler.node(where, path, 1)
    if compiler.errors:
        raise QueryError(_("The query is not valid: %(paths)s",
                            paths=", ".join(sorted(compiler.errors))), compiler.errors)
    return expression


def search_condition(source: Any, text: Any, path: str = "q") -> Any:
    """The simple query: ``text`` anywhere in any text field of the source."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return true()
    if not isinstance(text, str) or len(text) > ops.MAX_TEXT:
        raise QueryError(_("The search text is not valid."),
                         {path: _("expected text of at most %(n)s characters", n=ops.MAX_TEXT)})
    columns = [column_of(source, f) for f in source.fields if f.type == ops.TEXT]
    if not columns:
        raise QueryError(_("This source has no text to search."),
                         {path: _("this source has no text fields")})
    words = text.split()
    return and_(*(or_(*(col.icontains(word, autoescape=True) for col in columns))
                  for word in words))


def compile_sort(source: Any, sort: Any, path: str = "sort") -> list[Any]:
    """ORDER BY clauses for ``["-created_at", "name"]``; the primary key breaks ties."""
    sort = sort or []
    if isinstance(sort, str):
        sort = [sort]
    fields = fields_of(source)
    errors: dict[str, str] = {}
    clauses: list[Any] = []
    if not isinstance(sort, list) or len(sort) > MAX_SORT:
        raise QueryError(_("The sort is not valid."),
                         {path: _("expected a list of at most %(n)s fields", n=MAX_SORT)})
    for i, item in enumerate(sort):
        name = item[1:] if isinstance(item, str) and item.startswith("-") else item
        qfield = fields.get(name) if isinstance(name, str) else None
        if qfield is None:
            errors[f"{path}[{i}]"] = _unknown_field(source, item)
            continue
        column = column_of(source, qfield)
        if _may_be_empty(source, column):
            # empty values last in both directions, the same on SQLite and PostgreSQL
            clauses.append(case((column.is_(None), 1), else_=0))
        clauses.append(column.desc() if item.startswith("-") else column.asc())
    if errors:
        raise QueryError(_("The sort is not valid."), errors)
    for column in _primary_key(source):
        clauses.append(column)
    return clauses


def _may_be_empty(source: Any, column: Any) -> bool:
    """Whether a sort column can hold NULL. A required column of the source's own table
    cannot, and sorting it plainly lets an index on it serve ``ORDER BY … LIMIT`` (the
    empty-last CASE would force sorting every matching row)."""
    col = getattr(column, "expression", column)
    table = getattr(source.model, "__table__", None)
    return not (isinstance(col, Column) and col.table is table and not col.nullable)


def _primary_key(source: Any) -> list[Any]:
    from sqlalchemy import inspect

    try:
        return list(inspect(source.model).primary_key)
    except Exception:  # noqa: BLE001 - a non-mapped model: no tie-break
        return []


# --- analysis -----------------------------------------------------------------------------


def _bucket(column: Any, by: str, ctx: Context, is_datetime: bool) -> Any:
    """``column`` cut to ``by`` as sortable text: 2026-11-22, 2026-11-16 (the week's Monday),
    2026-11, 2026-Q4, 2026. Date-times are cut in the business timezone."""
    if ctx.dialect == "postgresql":
        value = column
        if is_datetime:
            value = func.timezone(ctx.tz.key, column)
        formats = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q',
                   "year": "YYYY"}
        if by == "week":
            return func.to_char(func.date_trunc("week", value), "YYYY-MM-DD")
        return func.to_char(value, formats[by])
    value = column
    if is_datetime:
        offset = (ctx.now or dt.datetime.now(dt.UTC)).astimezone(ctx.tz).utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset else 0
        value = func.datetime(column, f"{minutes:+d} minutes")
    if by == "day":
        return func.strftime("%Y-%m-%d", value)
    if by == "week":
        return func.date(value, "weekday 0", "-6 days")
    if by == "month":
        return func.strftime("%Y-%m", value)
    if by == "year":
        return func.strftime("%Y", value)
    quarter = (cast(func.strftime("%m", value), Integer) + 2) // 3
    return func.strftime("%Y", value).concat(literal("-Q")).concat(cast(quarter, SqlString))


def compile_group_by(ctx: Context, group_by: Any, path: str = "group_by") -> list[tuple[str, Any]]:
    """``[(label, expression)]`` for ``["make"]`` or ``[{"field": "created_at", "by":
    "month"}, "make"]`` (one or two groupings; dates need ``by``)."""
    if isinstance(group_by, str | dict):
        group_by = [group_by]
    if not isinstance(group_by, list) or not 1 <= len(group_by) <= 2:
        raise QueryError(_("The grouping is not valid."),
                         {path: _("expected one or two fields to group by")})
    fields = fields_of(ctx.source)
    errors: dict[str, str] = {}
    result: list[tuple[str, Any]] = []
    for i, item in enumerate(group_by):
        here = f"{path}[{i}]"
        name, by = (item.get("field"), item.get("by")) if isinstance(item, dict) else (item, None)
        qfield = fields.get(name) if isinstance(name, str) else None
        if qfield is None:
            errors[here] = _unknown_field(ctx.source, name)
            continue
        column = column_of(ctx.source, qfield)
        if qfield.type in (ops.DATE, ops.DATETIME):
            by = by or "month"
            if by not in DATE_BUCKETS:
                errors[f"{here}.by"] = _("unknown period '%(by)s': use %(all)s", by=by,
                                          all=", ".join(DATE_BUCKETS))
                continue
            result.append((f"{name}_{by}", _bucket(column, by, ctx,
                                                   qfield.type == ops.DATETIME)))
        elif by is not None:
            errors[f"{here}.by"] = _("only dates are grouped by a period")
        else:
            result.append((name, column))
    if errors:
        raise QueryError(_("The grouping is not valid."), errors)
    return result


MEASURES = ("count", "sum", "avg", "min", "max")


def compile_measures(ctx: Context, measures: Any, path: str = "measures") -> list[tuple[str, Any]]:
    """``[(label, aggregate)]`` for ``[{"fn": "sum", "field": "lifetime_value"}]``; the
    default is one count of rows."""
    if not measures:
        return [("count", func.count())]
    if not isinstance(measures, list) or len(measures) > 10:
        raise QueryError(_("The measures are not valid."),
                         {path: _("expected a list of at most 10 measures")})
    fields = fields_of(ctx.source)
    errors: dict[str, str] = {}
    result: list[tuple[str, Any]] = []
    numeric = (ops.NUMBER, ops.MONEY)
    for i, item in enumerate(measures):
        here = f"{path}[{i}]"
        if not isinstance(item, dict) or set(item) - {"fn", "field"}:
            errors[here] = _('expected {"fn": "count|sum|avg|min|max", "field": F}')
            continue
        fn, name = item.get("fn"), item.get("field")
        if fn not in MEASURES:
            errors[f"{here}.fn"] = _("unknown function '%(fn)s': use %(all)s", fn=fn,
                                      all=", ".join(MEASURES))
            continue
        if fn == "count" and name is None:
            result.append(("count", func.count()))
            continue
        qfield = fields.get(name) if isinstance(name, str) else None
        if qfield is None:
            errors[f"{here}.field"] = _unknown_field(ctx.source, name)
            continue
        wanted = numeric if fn in ("sum", "avg") else (
            (*numeric, ops.DATE, ops.DATETIME, ops.TEXT) if fn != "count" else None)
        if wanted is not None and qfield.type not in wanted:
            errors[f"{here}.field"] = _("%(fn)s needs a number field, not %(field)s (%(type)s)",
                                         fn=fn, field=name, type=qfield.type)
            continue
        column = column_of(ctx.source, qfield)
        result.append((f"{fn}_{name}", getattr(func, fn)(column)))
    if errors:
        raise QueryError(_("The measures are not valid."), errors)
    labels = [label for label, _expr in result]
    if len(set(labels)) != len(labels):
        raise QueryError(_("The measures are not valid."),
                         {path: _("the same measure is asked twice")})
    return result
