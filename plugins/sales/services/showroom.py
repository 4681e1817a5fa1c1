"""The showroom traffic log: who came in, when, how many, first or return visit, what they
looked at, who served them and how it ended. A visit by a known customer lands on their
timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party
from carebiz.crm.timeline import add_entry
from carebiz.db import utcnow
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.toolkit import business_tz, one_visible

from .. import signals
from ..models import SalesProspect, SalesShowroomVisit
from .prospects import check_salesperson, pick_branch

OUTCOMES = {"browsing": _l("Just looking"), "test_drive": _l("Test drive"),
            "quotation": _l("Quotation"), "order": _l("Placed an order"), "left": _l("Left")}


def _when(value: Any, field: str, errors: dict[str, str]) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        errors[field] = _("A date and time as YYYY-MM-DDTHH:MM.")
        return None
    return when if when.tzinfo else when.replace(tzinfo=business_tz())


def log_visit(session: Session, data: dict[str, Any], *, user: Any) -> SalesShowroomVisit:
    """Log a party walking in (``arrived_at`` default now). ``customer_id`` or
    ``prospect_id`` ties it to a known customer; ``first_visit`` defaults to whether that
    customer was never logged before."""
    errors: dict[str, str] = {}
    branch = pick_branch(session, user, data.get("branch_id"), errors)
    arrived = _when(data.get("arrived_at"), "arrived_at", errors) or utcnow()
    left = _when(data.get("left_at"), "left_at", errors)
    if left is not None and left < arrived:
        errors["left_at"] = _("Not before the arrival.")
    size = data.get("party_size")
    size = 1 if size is None else size
    if not isinstance(size, int) or not 1 <= size <= 50:
        errors["party_size"] = _("From 1 to 50 people.")
    outcome = data.get("outcome") or "browsing"
    if outcome not in OUTCOMES:
        errors["outcome"] = _("One of: %(allowed)s.", allowed=", ".join(OUTCOMES))
    models = [" ".join(str(m).split())[:80] for m in data.get("models") or [] if str(m).strip()]
    prospect = None
    if data.get("prospect_id"):
        prospect = one_visible(SalesProspect, data["prospect_id"], user, session=session)
        if prospect is None:
            errors["prospect_id"] = _("No prospect you can see with this id.")
    customer_id = data.get("customer_id") or (prospect.customer_id if prospect else None)
    if customer_id and one_visible(Party, customer_id, user, session=session) is None:
        errors["customer_id"] = _("No customer you can see with this id.")
    salesperson = check_salesperson(
        session, data.get("salesperson_id") or getattr(user, "id", None),
        branch.id if branch else None, errors)
    if errors:
        raise ValidationFailed(_("The visit was not logged: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    assert branch is not None
    first = data.get("first_visit")
    if first is None:
        first = not customer_id or not session.scalar(select(exists().where(
            SalesShowroomVisit.customer_id == customer_id)))
    visit = SalesShowroomVisit(
        branch_id=branch.id, customer_id=customer_id,
        prospect_id=prospect.id if prospect else None, salesperson_id=salesperson,
        arrived_at=arrived, arrived_hour=arrived.astimezone(business_tz()).hour,
        left_at=left, party_size=size, first_visit=bool(first),
        models=models, outcome=outcome, notes=str(data.get("notes") or "").strip())
    session.add(visit)
    session.flush()
    if customer_id:
        add_entry(session, party_id=customer_id, kind="sales.showroom_visit", user=user,
                  at=arrived, subject=_("Showroom visit: %(outcome)s",
                                        outcome=str(OUTCOMES[outcome])))
    emit(session, signals.showroom_visit_logged, visit_id=visit.id, branch_id=branch.id,
         customer_id=customer_id, audit=Audit(
             "sales_showroom_visit", visit.id, N_("Showroom visit %(id)s logged"),
             None, {"outcome": outcome, "party_size": size}, args={"id": visit.id},
             branch_id=branch.id))
    return visit
