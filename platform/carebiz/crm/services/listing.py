"""The customers list as a query: search, filters and row filters in one place, shared by
the page, its exports and export jobs (which run without a request)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import case, false, func, select
from sqlalchemy.orm import Session

from carebiz.crm.models import KINDS, Party, PartyRole, PartyTag, PartyValue
from carebiz.crm.services import lookup as lookup_service
from carebiz.crm.services.value import SEGMENTS
from carebiz.export.table import MONEY, NUMBER, Column, Table
from carebiz.models import Branch
from carebiz.security.permissions import can
from carebiz.security.rows import visible

FILTERS = ("role", "tag", "kind", "branch", "segment")
#: most customers a search in the list considers (ranked by the lookup service)
LOOKUP_LIMIT = 200


def filters_from(args: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(args.get(k) or "").strip() for k in FILTERS}


def customer_query(sess: Session, user: Any, q: str, filters: dict[str, str],
                   see_value: bool) -> tuple[Any, dict[str, Any], str, dict[int, list[str]]]:
    """The customers list's statement (search, filters, row filters) with its sortable
    columns, its default sort and why each searched customer matched."""
    stmt = select(Party).where(Party.active.is_(True))
    columns: dict[str, Any] = {"name": Party.name_key, "created": Party.created_at,
                               "id": Party.id}
    default = "name"
    reasons: dict[int, list[str]] = {}
    if q:
        hits = lookup_service.lookup(sess, user, q, limit=LOOKUP_LIMIT)
        reasons = {h.party.id: h.reasons for h in hits}
        if hits:
            stmt = stmt.where(Party.id.in_(list(reasons)))
            columns["rank"] = case({h.party.id: i for i, h in enumerate(hits)}, value=Party.id)
            default = "rank"
        else:
            stmt = stmt.where(false())
    if filters["role"]:
        stmt = stmt.where(Party.id.in_(select(PartyRole.party_id)
                                       .where(PartyRole.role == filters["role"])))
    if filters["tag"]:
        stmt = stmt.where(Party.id.in_(select(PartyTag.party_id)
                                       .where(PartyTag.tag == filters["tag"])))
    if filters["kind"] in KINDS:
        stmt = stmt.where(Party.kind == filters["kind"])
    if filters["branch"].isdigit():
        stmt = stmt.where(Party.branch_id == int(filters["branch"]))
    if filters["segment"] and see_value:
        stmt = stmt.where(Party.id.in_(select(PartyValue.party_id)
                                       .where(PartyValue.segment == filters["segment"])))
    return visible(stmt, Party, user), columns, default, reasons


def sort_stmt(stmt: Any, columns: dict[str, Any], wanted: str, default: str) -> Any:
    key = wanted.lstrip("-")
    if key not in columns:
        wanted, key = default, default.lstrip("-")
    column = columns[key]
    return stmt.order_by(column.desc() if wanted.startswith("-") else column.asc(), Party.id)


def customers_table(sess: Session, user: Any, args: Mapping[str, Any]) -> Table:
    """The customers list as the user filtered it, for any export format."""
    see_value = can(user, "crm.segments.view")
    q = str(args.get("q") or "").strip()
    filters = filters_from(args)
    stmt, columns, default, _reasons = customer_query(sess, user, q, filters, see_value)
    stmt = sort_stmt(stmt, columns, str(args.get("sort") or default), default)
    total = sess.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    stmt = stmt.add_columns(PartyValue.lifetime_value, PartyValue.currency, PartyValue.segment)
    stmt = stmt.outerjoin(PartyValue, PartyValue.party_id == Party.id)
    codes = {b.id: b.code for b in sess.scalars(select(Branch))}
    cols = [Column("id", _("Id"), NUMBER), Column("name", _("Name")),
            Column("kind", _("Kind")), Column("roles", _("Roles")),
            Column("phones", _("Phones")), Column("emails", _("E-mails")),
            Column("branch", _("Branch")), Column("tags", _("Tags"))]
    if see_value:
        cols += [Column("ltv", _("Lifetime value"), MONEY, currency_key="currency"),
                 Column("currency", _("Currency")), Column("segment", _("Segment"))]

    def rows() -> Any:
        for party, ltv, currency, segment in sess.execute(stmt.execution_options(
                yield_per=1000)):
            yield {"id": party.id, "name": party.name, "kind": party.kind,
                   "roles": " ".join(party.roles), "phones": " ".join(party.phone_numbers),
                   "emails": " ".join(party.email_addresses),
                   "branch": codes.get(party.branch_id, ""), "tags": " ".join(party.tags),
                   "ltv": ltv, "currency": currency or "",
                   "segment": str(SEGMENTS.get(segment, segment or ""))}

    described = [f"{_('Search')}: {q}"] if q else []
    described += [f"{k}: {v}" for k, v in filters.items() if v]
    return Table(_("Customers"), cols, rows(), filters=described, total=total)

