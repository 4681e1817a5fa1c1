"""Return visits (回访) of prospects: scheduled on the customer's timeline, done with an
outcome, the next one planned from that outcome, overdue ones flagged.

Each visit is a core ``return_visit`` follow-up (so it shows in the salesperson's day, on
the 360° page, and its satisfaction feeds the customer's score) and a
:class:`~carebiz_plugins.sales.models.SalesReturnVisit` row holding what sales counts
(outcome, channel, the prospect). The two are written in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebiz.concurrency import lock
from carebiz.crm.models import TimelineEntry
from carebiz.crm.services.timeline import complete_followup
from carebiz.crm.timeline import add_entry
from carebiz.db import utcnow
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.toolkit import business_tz

from .. import signals
from ..models import SalesProspect, SalesReturnVisit

OPEN, DONE, CANCELLED = "open", "done", "cancelled"
CHANNELS = {"phone": _l("Phone"), "visit": _l("Visit"), "wechat": _l("WeChat"),
            "sms": _l("Text message")}

#: what a visit ended with, and how many days later the next one is planned (None: no next
#: visit is planned by itself; ``appointment`` takes the agreed time, ``next_due_at``)
OUTCOMES: dict[str, tuple[Any, int | None]] = {
    "interested": (_l("Interested, keep in touch"), 3),
    "wants_quote": (_l("Wants a quotation"), 2),
    "thinking": (_l("Still thinking"), 7),
    "no_answer": (_l("No answer"), 1),
    "appointment": (_l("Appointment made"), None),
    "not_interested": (_l("Not interested"), None),
}


def outcome_label(key: str) -> str:
    return str(OUTCOMES[key][0]) if key in OUTCOMES else key


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` on the business's wall clock, aware."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=business_tz())


def is_overdue(visit: SalesReturnVisit, today: dt.date) -> bool:
    """Open and due before the start of ``today`` (the business's date)."""
    return visit.status == OPEN and visit.due_at < start_of_day(today)


def _aware(value: Any, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValidationFailed(_("A date and time as YYYY-MM-DDTHH:MM."),
                                   {field: _("A date and time as YYYY-MM-DDTHH:MM.")}) from None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed(_("Say when."), {field: _("Required.")})
    return value if value.tzinfo else value.replace(tzinfo=business_tz())


def schedule_visit(session: Session, prospect: SalesProspect, *, due_at: Any, user: Any,
                   channel: str = "phone", assignee_id: int | None = None,
                   notes: str = "") -> SalesReturnVisit:
    """Plan a return visit of an open prospect, assigned to its salesperson unless said
    otherwise; it lands on the customer's timeline as a ``return_visit`` follow-up."""
    from .prospects import OPEN_STATUSES

    errors: dict[str, str] = {}
    if prospect.status not in OPEN_STATUSES:
        raise Conflict(_("This prospect is closed: reopen it to plan a visit."),
                       {"prospect_id": _("Closed.")})
    if channel not in CHANNELS:
        errors["channel"] = _("One of: %(allowed)s.", allowed=", ".join(CHANNELS))
    try:
        due = _aware(due_at, "due_at")
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(_("The return visit was not planned: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    if assignee_id is not None:
        from .prospects import check_salesperson

        assignee_id = check_salesperson(session, assignee_id, prospect.branch_id, errors)
        if "salesperson_id" in errors:
            errors["assignee_id"] = errors.pop("salesperson_id")
    if errors:
        raise ValidationFailed(_("The return visit was not planned: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    assignee = assignee_id or prospect.salesperson_id or getattr(user, "id", None)
    entry = add_entry(session, party_id=prospect.customer_id, kind="return_visit", user=user,
                      subject=_("Return visit (%(channel)s)", channel=str(CHANNELS[channel])),
                      body=notes, due_at=due, ref_type="sales_prospect", ref_id=prospect.id)
    entry.assignee_id = assignee
    visit = SalesReturnVisit(prospect_id=prospect.id, customer_id=prospect.customer_id,
                             branch_id=prospect.branch_id, timeline_entry_id=entry.id,
                             assignee_id=assignee, channel=channel, due_at=due, notes=notes,
                             status=OPEN)
    session.add(visit)
    session.flush()
    return visit


def complete_visit(session: Session, visit: SalesReturnVisit, *, outcome: str, user: Any,
                   notes: str = "", satisfaction: int | None = None,
                   next_due_at: Any = None) -> SalesReturnVisit:
    """Record how a visit went and plan the next one from the outcome (``next_due_at``
    overrides; an ``appointment`` needs it). The timeline follow-up is completed with it."""
    if outcome not in OUTCOMES:
        raise ValidationFailed(_("Say how the visit went."),
                               {"outcome": _("One of: %(allowed)s.",
                                             allowed=", ".join(OUTCOMES))})
    if outcome == "appointment" and not next_due_at:
        raise ValidationFailed(_("Give the time of the appointment."),
                               {"next_due_at": _("Required for an appointment.")})
    visit = lock(session, SalesReturnVisit, [visit.id])[visit.id]
    if visit.status != OPEN:
        raise Conflict(_("This return visit is closed already."), {"status": visit.status},
                       {"current_status": visit.status, "allowed": []})
    now = utcnow()
    visit.status, visit.outcome, visit.done_at = DONE, outcome, now
    if notes:
        visit.notes = (visit.notes + "\n" + notes).strip()
    entry = session.get(TimelineEntry, visit.timeline_entry_id) if visit.timeline_entry_id \
        else None
    if entry is not None and entry.status == OPEN:
        complete_followup(session, entry, outcome=outcome_label(outcome),
                          satisfaction=satisfaction, user=user)
    prospect = session.get(SalesProspect, visit.prospect_id)
    next_visit = None
    days = OUTCOMES[outcome][1]
    if prospect is not None and (next_due_at or days is not None):
        due = next_due_at or now.astimezone(business_tz()) + dt.timedelta(days=days or 0)
        try:
            try:
                next_visit = schedule_visit(session, prospect, due_at=due, user=user,
                                            channel=visit.channel, assignee_id=visit.assignee_id)
            except ValidationFailed:  # the assignee left meanwhile: the prospect's salesperson
                next_visit = schedule_visit(session, prospect, due_at=due, user=user,
                                            channel=visit.channel)
        except Conflict:
            next_visit = None  # the prospect was closed meanwhile: nothing to plan
    visit.next_visit_id = next_visit.id if next_visit else None
    session.flush()
    emit(session, signals.return_visit_done, visit_id=visit.id, prospect_id=visit.prospect_id,
         customer_id=visit.customer_id, outcome=outcome, next_visit_id=visit.next_visit_id,
         audit=Audit("sales_prospect", visit.prospect_id, N_("Return visit %(id)s done"),
                     {"status": OPEN}, {"status": DONE, "outcome": outcome,
                                        "next_visit_id": visit.next_visit_id},
                     args={"id": visit.id}, branch_id=visit.branch_id))
    return visit


def cancel_open_visits(session: Session, prospect: SalesProspect, user: Any) -> int:
    """A closed prospect needs no more visits: its open ones (and their timeline
    follow-ups) are cancelled. Answers how many."""
    open_visits = list(session.scalars(select(SalesReturnVisit).where(
        SalesReturnVisit.prospect_id == prospect.id, SalesReturnVisit.status == OPEN)))
    for visit in open_visits:
        entry = session.get(TimelineEntry, visit.timeline_entry_id) \
            if visit.timeline_entry_id else None
        if entry is not None and entry.status == OPEN:
            complete_followup(session, entry, user=user, cancelled=True)
    if open_visits:
        session.execute(update(SalesReturnVisit).where(
            SalesReturnVisit.id.in_([v.id for v in open_visits]))
            .values(status=CANCELLED).execution_options(synchronize_session="fetch"))
    return len(open_visits)
