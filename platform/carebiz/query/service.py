"""Running queries and analyses over registered sources.

Every statement built here starts from the source's model, goes through
:func:`carebiz.security.visible` (the row filters of every switched-on plugin), outer-joins the
tables its fields need with *their* row filters in the ``ON`` clause, and runs under a time
limit: ``SET LOCAL statement_timeout`` on PostgreSQL, a progress handler on SQLite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import and_, func, literal, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version
from carebiz.errors import Forbidden, NotFound, ServiceError, ValidationFailed
from carebiz.query import compiler as c
from carebiz.query import labels as labels_
from carebiz.query import operators as ops
from carebiz.security.permissions import can
from carebiz.security.rows import filters_for, visible
from carebiz.toolkit.business_time import business_tz

MAX_PER_PAGE = 500
MAX_GROUPS = 1000
DEFAULT_TIMEOUT_MS = 5000


class QueryTimeout(ServiceError):
    status = 503
    code = "query_timeout"


# --- sources ------------------------------------------------------------------------------


#: totals are counted exactly up to this many rows (benchmarks/README.md)
COUNT_CAP = 10_000


def _host(host: Any = None) -> Any:
    return host or current_app.extensions["carebiz"].host


def sources(user: Any, host: Any = None) -> list[Any]:
    """The sources ``user`` may query, in the host's order."""
    if not getattr(user, "is_authenticated", False):
        return []
    return [s for s in _host(host).collect("query_sources")
            if s.permission is None or can(user, s.permission)]


def get_source(user: Any, name: str, host: Any = None) -> Any:
    """The source ``name``: 404 when nobody registered it, 403 without its permission."""
    for source in _host(host).collect("query_sources"):
        if source.name == name:
            if source.permission is not None and not can(user, source.permission):
                raise Forbidden(_("You may not query %(source)s.", source=name))
            if not getattr(user, "is_authenticated", False):
                raise Forbidden(_("You may not query %(source)s.", source=name))
            return source
    raise NotFound(_("No query source named %(source)s.", source=name))


def describe(source: Any) -> dict[str, Any]:
    """A source for the query builder: its fields, types, labels and operators."""
    return {
        "name": source.name,
        "label": str(source.label),
        "fields": [{"name": f.name, "label": str(f.label), "type": f.type,
                    "operators": list(ops.operators_for(f)),
                    "choices": [{"value": k, "label": str(v)} for k, v in f.choices],
                    "relation": f.relation, "currency": f.currency}
                   for f in source.fields],
    }


# --- context, statements, limits ----------------------------------------------------------


def context(session: Session, source: Any, now: dt.datetime | None = None) -> c.Context:
    return c.Context(source=source, tz=business_tz(), now=now or dt.datetime.now(dt.UTC),
                     dialect=session.get_bind().dialect.name)


def base_select(source: Any, user: Any, columns: list[Any], host: Any = None,
                needs: set[str] | None = None) -> Any:
    """``SELECT columns FROM model`` with the joins the fields need (only those of the
    fields named in ``needs``, when given) and the row filters."""
    stmt = select(*columns).select_from(source.model)
    for target, onclause in c.joins_of(source, needs):
        extra = filters_for(target, user, _host(host)) if isinstance(target, type) else []
        stmt = stmt.outerjoin(target, and_(onclause, *extra))
    always = getattr(source, "where", None)
    if always is not None:
        if callable(always) and not hasattr(always, "__clause_element__"):
            always = always(source.model)
        stmt = stmt.where(always)
    return visible(stmt, source.model, user, _host(host))


def timeout_ms() -> int:
    if has_app_context():
        return int(current_app.config.get("CAREBIZ_QUERY_TIMEOUT_MS", DEFAULT_TIMEOUT_MS))
    return DEFAULT_TIMEOUT_MS


@contextlib.contextmanager
def time_limit(session: Session, ms: int | None = None) -> Iterator[None]:
    """Stop the statements run inside after ``ms`` milliseconds with :class:`QueryTimeout`."""
    ms = timeout_ms() if ms is None else ms
    connection = session.connection()
    dialect = connection.dialect.name
    raw = None
    if dialect == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(ms)}")
    elif dialect == "sqlite":
        raw = connection.connection.dbapi_connection
        deadline = time.monotonic() + ms / 1000

        def stop() -> int:
            return 1 if time.monotonic() > deadline else 0

        raw.set_progress_handler(stop, 1000)
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig).lower()
        if "interrupted" in text or "statement timeout" in text or "canceling" in text:
            session.rollback()
            raise QueryTimeout(_("The query took longer than %(seconds)s s and was stopped. "
                                 "Narrow the conditions or group by a longer period.",
                                 seconds=round(ms / 1000, 1))) from None
        raise
    finally:
        if raw is not None:
            raw.set_progress_handler(None, 0)
        elif dialect == "postgresql" and session.in_transaction():
            with contextlib.suppress(Exception):
                session.connection().exec_driver_sql("SET LOCAL statement_timeout = 0")


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _paging(body: dict[str, Any]) -> tuple[int, int]:
    page, per_page = body.get("page", 1), body.get("per_page", 50)
    errors = {}
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 1_000_000:
        errors["page"] = _("expected a page number from 1")
    if isinstance(per_page, bool) or not isinstance(per_page, int) or not (
            1 <= per_page <= MAX_PER_PAGE):
        errors["per_page"] = _("expected 1 to %(n)s rows per page", n=MAX_PER_PAGE)
    if errors:
        raise ValidationFailed(_("Some fields are not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    return page, per_page


def _conditions(ctx: c.Context, body: dict[str, Any]) -> Any:
    """``where`` and the simple query ``q``, each validated (errors of both reported)."""
    errors: dict[str, str] = {}
    parts = []
    for build in (lambda: c.compile_where(ctx, body.get("where")),
                  lambda: c.search_condition(ctx.source, body.get("q"))):
        try:
            parts.append(build())
        except c.QueryError as exc:
            errors.update(exc.errors)
    if errors:
        raise c.QueryError(_("The query is not valid: %(paths)s",
                             paths=", ".join(sorted(errors))), errors)
    return and_(*parts)


def _condition_fields(source: Any, body: dict[str, Any]) -> set[str]:
    """Fields the conditions of ``body`` read (the simple query reads every text field)."""
    names = c.fields_in(body.get("where"))
    q = body.get("q")
    if isinstance(q, str) and q.strip():
        names |= c.text_fields(source)
    return names


def _names(items: Any) -> set[str]:
    """Field names out of group_by / measure lists ("created_at:month" counts as created_at)."""
    found: set[str] = set()
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, str):
            found.add(item.split(":", 1)[0])
        elif isinstance(item, dict) and isinstance(item.get("field"), str):
            found.add(item["field"])
    return found


def _key(source: Any) -> Any:
    pk = getattr(source.model, "id", None)
    return pk if pk is not None else literal(1)


# --- running ------------------------------------------------------------------------------


def run(session: Session, user: Any, source_name: str, body: dict[str, Any] | None, *,
        host: Any = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """One page of the rows of ``source_name`` that ``user`` may see and ``body`` selects:
    ``{"items": [{field: value}], "total": N, "page", "per_page"}``."""
    body = body or {}
    source = get_source(user, source_name, host)
    ctx = context(session, source, now)
    page, per_page = _paging(body)
    condition = _conditions(ctx, body)
    order = c.compile_sort(source, body.get("sort"))
    columns = [c.column_of(source, f).label(f.name) for f in source.fields]
    names = [f.name for f in source.fields]
    if "id" not in names and hasattr(source.model, "id"):
        columns.insert(0, source.model.id.label("id"))
        names.insert(0, "id")
    stmt = base_select(source, user, columns, host).where(condition)
    # the count reads ids only, joining just what the conditions use
    counted = base_select(source, user, [_key(source)], host,
                          needs=_condition_fields(source, body)).where(condition)
    with time_limit(session):
        # counting every match of a wide query over a million rows costs more than the
        # page itself: count up to COUNT_CAP and say "more than" beyond it
        total = session.scalar(select(func.count()).select_from(
            counted.limit(COUNT_CAP + 1).subquery())) or 0
        rows = session.execute(stmt.order_by(*order).limit(per_page)
                               .offset((page - 1) * per_page)).all()
    items = [{name: jsonable(value) for name, value in zip(names, row, strict=True)}
             for row in rows]
    labeller = labels_.Labeller(session, source)
    labelled = {f.name: f for f in source.fields if labeller.labelled(f)}
    for item in items:
        # the codes stay (integrators need them); their labels go beside them
        item["labels"] = labeller.row_labels(item, labelled)
    capped = total > COUNT_CAP
    return {"items": items, "total": min(total, COUNT_CAP), "total_capped": capped,
            "page": page, "per_page": per_page}


def aggregate(session: Session, user: Any, source_name: str, body: dict[str, Any] | None, *,
              host: Any = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """The rows selected by ``body`` grouped by one or two fields (dates by period) with
    measures: ``{"group_by": [labels], "measures": [labels], "rows": [{label: value}]}``."""
    body = body or {}
    source = get_source(user, source_name, host)
    ctx = context(session, source, now)
    condition = _conditions(ctx, body)
    errors: dict[str, str] = {}
    groups: list[tuple[str, Any]] = []
    measures: list[tuple[str, Any]] = []
    try:
        groups = c.compile_group_by(ctx, body.get("group_by"))
    except c.QueryError as exc:
        errors.update(exc.errors)
    try:
        measures = c.compile_measures(ctx, body.get("measures"))
    except c.QueryError as exc:
        errors.update(exc.errors)
    if errors:
        raise c.QueryError(_("The analysis is not valid: %(paths)s",
                             paths=", ".join(sorted(errors))), errors)
    labels = [label for label, _e in groups] + [label for label, _e in measures]
    if len(set(labels)) != len(labels):
        raise c.QueryError(_("The analysis is not valid: %(paths)s", paths="measures"),
                           {"measures": _("a measure has the name of a grouping")})
    keys = [expr for _label, expr in groups]
    needs = _condition_fields(source, body) | _names(body.get("group_by")) | _names(
        [m.get("field") for m in body.get("measures") or [] if isinstance(m, dict)])
    stmt = (base_select(source, user, [e.label(lbl) for lbl, e in groups + measures], host,
                        needs=needs)
            .where(condition).group_by(*keys).order_by(*keys).limit(MAX_GROUPS + 1))
    with time_limit(session):
        rows = session.execute(stmt).all()
    if len(rows) > MAX_GROUPS:
        raise ValidationFailed(
            _("The analysis has more than %(n)s groups. Narrow the conditions or group by a "
              "longer period.", n=MAX_GROUPS), {"group_by": _("too many groups")})
    group_names = [label for label, _e in groups]
    measure_names = [label for label, _e in measures]
    answer_rows = [{label: jsonable(value) for label, value in zip(labels, row, strict=True)}
                   for row in rows]
    labeller = labels_.Labeller(session, source)
    keys = labels_.group_keys(source, group_names)
    for answer in answer_rows:
        answer["labels"] = labeller.row_labels(answer, keys)
    return {"group_by": group_names, "measures": measure_names, "rows": answer_rows,
            "currencies": measure_currencies(source, measure_names, labeller)}


def measure_currencies(source: Any, measures: list[str], labeller: Any) -> dict[str, str]:
    """The currency of each money measure (``sum_lifetime_value`` → ``CNY``)."""
    fields = c.fields_of(source)
    found: dict[str, str] = {}
    for key in measures:
        fn, _sep, name = key.partition("_")
        qfield = fields.get(name)
        if fn in ("sum", "avg", "min", "max") and qfield is not None and (
                qfield.type == ops.MONEY):
            code = labeller.currency_of(qfield)
            if code:
                found[key] = code
    return found


# --- saved queries ------------------------------------------------------------------------

DEFINITION_KEYS = ("where", "q", "sort", "per_page", "group_by", "measures", "chart")


def _saved_visible(user: Any) -> Any:
    from sqlalchemy import false, or_

    from carebiz.query.models import BRANCH, ROLE, SavedQuery

    if not getattr(user, "is_authenticated", False):
        return false()
    role_ids = sorted(r.id for r in user.roles)
    if user.all_branches or user.is_superuser:
        branch_rule = SavedQuery.visibility == BRANCH
    else:
        branch_rule = and_(SavedQuery.visibility == BRANCH,
                           SavedQuery.branch_id.in_(sorted(user.branch_ids)))
    return or_(SavedQuery.owner_id == user.id,
               and_(SavedQuery.visibility == ROLE, SavedQuery.role_id.in_(role_ids)),
               branch_rule)


def saved_list(session: Session, user: Any, source: str | None = None,
               host: Any = None) -> list[Any]:
    """Saved queries ``user`` may see: their own, their roles' and their branches', over
    sources they may query."""
    from carebiz.query.models import SavedQuery

    allowed = [s.name for s in sources(user, host)]
    stmt = select(SavedQuery).where(_saved_visible(user), SavedQuery.source.in_(allowed))
    if source:
        stmt = stmt.where(SavedQuery.source == source)
    return list(session.scalars(stmt.order_by(SavedQuery.name, SavedQuery.id)))


def saved_get(session: Session, user: Any, saved_id: int, host: Any = None) -> Any:
    from carebiz.query.models import SavedQuery

    allowed = [s.name for s in sources(user, host)]
    found = session.scalar(select(SavedQuery).where(
        SavedQuery.id == saved_id, _saved_visible(user), SavedQuery.source.in_(allowed)))
    if found is None:
        raise NotFound(_("No saved query with id %(id)s.", id=saved_id))
    return found


def check_definition(session: Session, source: Any, definition: Any) -> dict[str, Any]:
    """A saved definition must compile: the same checks as running it."""
    if not isinstance(definition, dict):
        raise ValidationFailed(_("The definition is not valid."),
                               {"definition": _("expected an object")})
    extra = sorted(set(definition) - set(DEFINITION_KEYS))
    if extra:
        raise ValidationFailed(_("The definition is not valid."),
                               {f"definition.{extra[0]}": _("unknown key")})
    ctx = context(session, source)
    try:
        c.compile_where(ctx, definition.get("where"), "definition.where")
        c.search_condition(source, definition.get("q"), "definition.q")
        c.compile_sort(source, definition.get("sort"), "definition.sort")
        if definition.get("group_by"):
            c.compile_group_by(ctx, definition["group_by"], "definition.group_by")
            c.compile_measures(ctx, definition.get("measures"), "definition.measures")
    except c.QueryError as exc:
        raise c.QueryError(exc.message, exc.errors) from None
    if definition.get("chart") is not None and definition["chart"] not in (
            "bar", "line", "pie", "stacked"):
        raise ValidationFailed(_("The definition is not valid."),
                               {"definition.chart": _("use bar, line, pie or stacked")})
    return definition


#: ids are 32-bit; a larger number names no record (and overflows the driver)
MAX_ID = 2**31 - 1


def _sharing(session: Session, user: Any,
             data: dict[str, Any]) -> tuple[str, int | None, int | None]:
    """Who a saved query is shared with; the role or branch must exist (a superuser may
    name any, and an unknown id would otherwise fail as a foreign key at the flush)."""
    from carebiz.models import Branch, Role
    from carebiz.query.models import BRANCH, PRIVATE, ROLE

    visibility = data.get("visibility") or PRIVATE
    role_id, branch_id = data.get("role_id"), data.get("branch_id")
    if visibility == PRIVATE:
        return PRIVATE, None, None
    if visibility == ROLE:
        if role_id is None or not (user.is_superuser
                                   or role_id in {r.id for r in user.roles}):
            raise ValidationFailed(_("You can share only with a role you hold."),
                                   {"role_id": _("not one of your roles")})
        if not 1 <= role_id <= MAX_ID or session.get(Role, role_id) is None:
            raise ValidationFailed(_("No role with id %(id)s.", id=role_id),
                                   {"role_id": _("unknown role")})
        return ROLE, role_id, None
    if visibility == BRANCH:
        if branch_id is None or not (user.all_branches or user.is_superuser
                                     or branch_id in user.branch_ids):
            raise ValidationFailed(_("You can share only with a branch of yours."),
                                   {"branch_id": _("not one of your branches")})
        if not 1 <= branch_id <= MAX_ID or session.get(Branch, branch_id) is None:
            raise ValidationFailed(_("No branch with id %(id)s.", id=branch_id),
                                   {"branch_id": _("unknown branch")})
        return BRANCH, None, branch_id
    raise ValidationFailed(_("The visibility is not valid."),
                           {"visibility": _("use private, role or branch")})


def saved_create(session: Session, user: Any, data: dict[str, Any], host: Any = None) -> Any:
    from carebiz.query.models import SavedQuery

    source = get_source(user, data["source"], host)
    definition = check_definition(session, source, data.get("definition") or {})
    visibility, role_id, branch_id = _sharing(session, user, data)
    saved = SavedQuery(source=source.name, name=data["name"], definition=definition,
                       owner_id=user.id, visibility=visibility, role_id=role_id,
                       branch_id=branch_id)
    session.add(saved)
    session.flush()
    return saved


def _own(user: Any, saved: Any) -> None:
    if saved.owner_id != user.id and not user.is_superuser:
        raise Forbidden(_("Only the owner may change a saved query."))


def saved_update(session: Session, user: Any, saved_id: int, data: dict[str, Any],
                 host: Any = None, expected_version: int | list[int] | None = None) -> Any:
    """Change a saved query; ``expected_version`` is the version the client read (None:
    last write wins)."""
    saved = saved_get(session, user, saved_id, host)
    _own(user, saved)
    check_version(session, saved, expected_version, entity_type="saved_query")
    source = get_source(user, saved.source, host)
    if "name" in data:
        saved.name = data["name"]
    if "definition" in data:
        saved.definition = check_definition(session, source, data["definition"] or {})
    if {"visibility", "role_id", "branch_id"} & set(data):
        merged = {"visibility": saved.visibility, "role_id": saved.role_id,
                  "branch_id": saved.branch_id, **data}
        saved.visibility, saved.role_id, saved.branch_id = _sharing(session, user, merged)
    session.flush()
    return saved


def saved_delete(session: Session, user: Any, saved_id: int, host: Any = None) -> None:
    saved = saved_get(session, user, saved_id, host)
    _own(user, saved)
    session.delete(saved)
    session.flush()


EXPORT_TYPES = {"number": "number", "money": "money", "date": "date", "datetime": "datetime",
                "bool": "bool"}


def export_table(session: Session, user: Any, source_name: str, body: dict[str, Any], *,
                 host: Any = None, sync_rows: int = 20_000) -> Any:
    """Every row ``body`` selects (not one page) as an export Table, streamed from the
    database; its ``total`` is exact up to ``sync_rows`` + 1 (enough to choose between a
    direct download and a background job)."""
    from carebiz.export.table import Column, Table

    source = get_source(user, source_name, host)
    ctx = context(session, source)
    condition = _conditions(ctx, body)
    order = c.compile_sort(source, body.get("sort"))
    columns = [c.column_of(source, f).label(f.name) for f in source.fields]
    stmt = base_select(source, user, columns, host).where(condition)
    counted = base_select(source, user, [_key(source)], host,
                          needs=_condition_fields(source, body)).where(condition)
    with time_limit(session):
        total = session.scalar(select(func.count()).select_from(
            counted.limit(sync_rows + 1).subquery())) or 0
    currency = None
    if any(f.type == "money" for f in source.fields):
        from carebiz.services.settings import get as setting

        currency = setting(session, _host(host), "core.base_currency")
    labeller = labels_.Labeller(session, source)
    table_columns = [Column(f.name, str(f.label),
                            "text" if f.relation else EXPORT_TYPES.get(f.type, "text"),
                            currency=(labeller.currency_of(f) or currency)
                            if f.type == "money" else None)
                     for f in source.fields]

    def rows() -> Any:
        for row in session.execute(stmt.order_by(*order).execution_options(yield_per=1000)):
            yield dict(row._mapping)

    return Table(str(source.label), table_columns, rows(), total=total)
