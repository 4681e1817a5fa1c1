"""The core's example document: a customer's statement of account (对账单) listing the revenue
events the customer brought, with the total in the base currency and, for CNY, in Chinese
capital numerals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from babel.dates import format_date, format_datetime
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.contributions import DocumentType
from carebiz.crm.models import Party, RevenueEvent
from carebiz.currency.format import format_money
from carebiz.currency.words import chinese_capital
from carebiz.errors import NotFound
from carebiz.models import Branch, User
from carebiz.security import visible
from carebiz.services import settings
from carebiz.toolkit.business_time import business_tz


def build_statement(session: Session, party_id: int, *, user: User, locale: str
                    ) -> dict[str, Any]:
    """The data of the statement of customer ``party_id`` as ``user`` may see it (row filters
    apply to the customer and to the revenue events; a hidden customer is 404): a
    :class:`~carebiz.contributions.DocumentBuilder`."""
    host = current_app.extensions["carebiz"].host
    loc = str(locale or "zh_CN")
    party = session.scalar(visible(select(Party).where(Party.id == party_id), Party, user,
                                   host))
    if party is None:
        raise NotFound(_("No customer with id %(id)s.", id=party_id))
    events_stmt = (select(RevenueEvent).where(RevenueEvent.party_id == party.id)
                   .order_by(RevenueEvent.occurred_on, RevenueEvent.id))
    events = session.scalars(visible(events_stmt, RevenueEvent, user, host)).all()
    branch = session.get(Branch, party.branch_id) if party.branch_id else None
    base = str(settings.get(session, host, "core.base_currency") or "CNY").upper()
    company = str(settings.get(session, host, "core.company_name") or "")
    total = sum((Decimal(e.base_amount) for e in events), Decimal(0))

    lines = []
    for event in events:
        lines.append({
            "date": format_date(event.occurred_on, "medium", locale=loc),
            "source": event.source,
            "ref": event.ref,
            "amount": format_money(event.amount, event.currency, loc),
            "currency": event.currency,
            "base_amount": format_money(event.base_amount, base, loc),
            "foreign": event.currency != base,
        })
    address = "".join(p for p in (party.province, party.city, party.district, party.street)
                      if p)
    total_text = format_money(total, base, loc)
    capital = chinese_capital(total) if base == "CNY" else None
    zone = business_tz()  # the business's
    generated = format_datetime(dt.datetime.now(dt.UTC), "medium", tzinfo=zone, locale=loc)
    columns = [_("Date"), _("Source"), _("Reference"), _("Amount"),
               _("Amount in %(currency)s", currency=base)]
    parties = [(_("Customer"), party.name), (_("Customer number"), str(party.id))]
    if address:
        parties.append((_("Address"), address))
    if branch is not None:
        parties.append((_("Branch"), branch.name))
    return {
        # generic keys (DOCX layout, other renderers)
        "title": _("Statement of account"),
        "company": company,
        "parties": parties,
        "columns": columns,
        "rows": [[ln["date"], ln["source"], ln["ref"], ln["amount"], ln["base_amount"]]
                 for ln in lines],
        "totals": [(_("Total"), total_text)],
        "capital": capital,
        "generated_at": generated,
        # the statement's own keys (its HTML template)
        "customer": {"id": party.id, "name": party.name, "address": address},
        "branch": {"name": branch.name, "address": branch.address, "phone": branch.phone}
        if branch is not None else None,
        "lines": lines,
        "count": len(lines),
        "base_currency": base,
        "total": total,
        "total_text": total_text,
    }


CUSTOMER_STATEMENT = DocumentType(
    name="customer_statement",
    label=_l("Customer statement of account"),
    template="documents/customer_statement.html",
    build=build_statement,
    permission="crm.customers.view",
    weight=10,
    record_type="party",
)
