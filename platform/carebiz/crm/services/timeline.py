"""The customer timeline: interactions, tasks and return visits (回访), and "my day"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from carebiz.crm import signals
from carebiz.crm.models import Party, TimelineEntry, Vehicle
from carebiz.crm.services.common import host_of
from carebiz.db import utcnow
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.security.rows import prepared, visible
from carebiz.text import text_problem

#: kinds that are follow-ups: they have a due date, an assignee and an outcome
FOLLOWUP_KINDS = ("task", "return_visit")
OPEN, DONE, CANCELLED = "open", "done", "cancelled"


def known_kinds(session: Session) -> dict[str, Any]:
    """Timeline kinds of the core and every switched-on plugin, by name."""
    return {k.name: k for k in host_of(session).collect("timeline_kinds")}


def add_entry(session: Session, party: Party, kind: str, *, subject: str = "", body: str = "",
              occurred_at: dt.datetime | None = None, vehicle: Vehicle | None = None,
              due_at: dt.datetime | None = None, assignee_id: int | None = None,
              ref_type: str | None = None, ref_id: Any = None, user: Any = None,
              status: str | None = None) -> TimelineEntry:
    """Record an interaction. Follow-ups (tasks, return visits) are open until completed and
    need a due date; plugins link entries to their documents with ``ref_type``/``ref_id``."""
    errors: dict[str, str] = {}
    if kind not in known_kinds(session):
        errors["kind"] = _("Unknown kind of entry: %(kind)s.", kind=kind)
    if not party.active:
        errors["party_id"] = _("This customer was merged into another record.")
    subject = " ".join((subject or "").split())
    for field, text, limit in (("subject", subject, 200), ("body", body or "", None)):
        problem = text_problem(text, limit)
        if problem:
            errors[field] = problem
    followup = kind in FOLLOWUP_KINDS
    if followup and due_at is None:
        errors["due_at"] = _("A follow-up needs a due date.")
    if vehicle is not None and vehicle.owner_id not in (party.id, None):
        errors["vehicle_id"] = _("This vehicle does not belong to this customer.")
    for name, value in (("occurred_at", occurred_at), ("due_at", due_at)):
        if value is not None and value.tzinfo is None:
            errors[name] = _("Give the time with its offset.")
    if errors:
        raise ValidationFailed(_("The timeline entry is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    entry = TimelineEntry(
        party_id=party.id, vehicle_id=vehicle.id if vehicle else None, kind=kind,
        subject=subject, body=(body or "").strip(), occurred_at=occurred_at or utcnow(),
        due_at=due_at, assignee_id=assignee_id if followup else None,
        status=status or (OPEN if followup else DONE), branch_id=party.branch_id,
        ref_type=ref_type, ref_id=str(ref_id) if ref_id is not None else None,
        created_by=getattr(user, "id", None))
    if followup and entry.assignee_id is None:
        entry.assignee_id = getattr(user, "id", None)
    session.add(entry)
    session.flush()
    emit(session, signals.timeline_entry_added, entry_id=entry.id, party_id=party.id, kind=kind)
    return entry


def complete_followup(session: Session, entry: TimelineEntry, *, outcome: str = "",
                      satisfaction: int | None = None, user: Any = None,
                      cancelled: bool = False) -> TimelineEntry:
    """Close a task or return visit with its outcome; a return visit's satisfaction (1–5)
    feeds the customer's satisfaction score."""
    if entry.kind not in FOLLOWUP_KINDS:
        raise Conflict(_("Only tasks and return visits are completed."))
    if entry.status != OPEN:
        raise Conflict(_("This follow-up is closed already."))
    if satisfaction is not None:
        try:
            satisfaction = int(satisfaction)
            if not 1 <= satisfaction <= 5:
                raise ValueError
        except (TypeError, ValueError):
            raise ValidationFailed(_("Satisfaction is a whole number from 1 to 5."),
                                   {"satisfaction": _("From 1 to 5.")}) from None
    entry.status = CANCELLED if cancelled else DONE
    entry.outcome = (outcome or "").strip()
    entry.satisfaction = satisfaction
    entry.occurred_at = utcnow()
    session.flush()
    if entry.kind != "return_visit":
        satisfaction = entry.satisfaction = None  # only return visits measure satisfaction
    if satisfaction is not None and not cancelled:
        from carebiz.crm.services.value import add_satisfaction

        add_satisfaction(session, entry.party_id, satisfaction)
    emit(session, signals.followup_completed, entry_id=entry.id, party_id=entry.party_id,
         satisfaction=satisfaction,
         audit=Audit("timeline_entry", entry.id, N_("Follow-up %(subject)s closed"),
                     {"status": OPEN}, {"status": entry.status, "outcome": entry.outcome,
                                        "satisfaction": satisfaction},
                     branch_id=entry.branch_id, args={"subject": entry.subject or entry.kind}))
    return entry


def entries_for(party_id: int, *, kinds: list[str] | None = None,
                vehicle_id: int | None = None, before: dt.datetime | None = None,
                open_only: bool = False) -> Select[Any]:
    """The statement of a customer's timeline, newest first, filterable; callers apply the
    row filters (``security.visible``) and a limit."""
    stmt = select(TimelineEntry).where(TimelineEntry.party_id == party_id)
    if kinds:
        stmt = stmt.where(TimelineEntry.kind.in_(kinds))
    if vehicle_id is not None:
        stmt = stmt.where(TimelineEntry.vehicle_id == vehicle_id)
    if before is not None:
        stmt = stmt.where(TimelineEntry.occurred_at < before)
    if open_only:
        stmt = stmt.where(TimelineEntry.status == OPEN)
    return stmt.order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())


def my_day(user: Any, *, today_end: dt.datetime, whole_branch: bool = False) -> Select[Any]:
    """Open follow-ups due by the end of today (overdue included), the user's own, or, for a
    manager, everyone's in the branches they see (row filters narrow that further)."""
    stmt = select(TimelineEntry).where(TimelineEntry.status == OPEN,
                                       TimelineEntry.due_at <= today_end)
    if not whole_branch:
        stmt = stmt.where(TimelineEntry.assignee_id == user.id)
    return stmt.order_by(TimelineEntry.due_at, TimelineEntry.id)


@dataclass(frozen=True)
class DueCounts:
    """Open follow-ups due by the end of today: the user's own and, for the whole of the
    branches the user sees, everyone's (assigned to anybody or to nobody)."""

    mine_overdue: int = 0
    mine_today: int = 0
    all_overdue: int = 0
    all_today: int = 0

    @property
    def mine(self) -> int:
        return self.mine_overdue + self.mine_today

    @property
    def everyone(self) -> int:
        return self.all_overdue + self.all_today


def due_counts(session: Session, user: Any, *, now: dt.datetime,
               today_end: dt.datetime) -> DueCounts:
    """How many open follow-ups ``user`` may see are overdue or due later today, theirs and
    everyone's, in one query through the row filters of ``user`` (a branch-limited user
    counts only their branches)."""
    late = TimelineEntry.due_at < now
    mine = TimelineEntry.assignee_id == user.id

    def total(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    stmt = (select(total(and_(mine, late)), total(and_(mine, ~late)), total(late),
                   total(~late))
            .select_from(TimelineEntry)
            .where(TimelineEntry.status == OPEN, TimelineEntry.due_at <= today_end))
    row = session.execute(visible(stmt, TimelineEntry, user, host_of(session))).one()
    return DueCounts(*(int(v or 0) for v in row))


# --- pages of timelines for the record pages ------------------------------------------------


def timeline_page(session: Session, party_id: int, user: Any, *,
                  kinds: list[str] | None = None, before: int | None = None,
                  limit: int = 20) -> tuple[list[TimelineEntry], int | None]:
    """One page of a customer's timeline that ``user`` may see, newest first, and the cursor
    of the next (older) page, or None on the last. The cursor is the id of the last entry
    shown, so entries sharing a time are neither skipped nor repeated."""
    stmt = entries_for(party_id, kinds=kinds)
    if before is not None:
        anchor = session.get(TimelineEntry, before)
        if anchor is not None and anchor.party_id == party_id:
            stmt = stmt.where(or_(TimelineEntry.occurred_at < anchor.occurred_at,
                                  and_(TimelineEntry.occurred_at == anchor.occurred_at,
                                       TimelineEntry.id < anchor.id)))
    rows = list(session.scalars(visible(stmt, TimelineEntry, user).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def open_followups(session: Session, party_id: int, user: Any,
                   limit: int = 50) -> list[TimelineEntry]:
    """A customer's open tasks and return visits that ``user`` may see, soonest due first
    (the statement built once per process and row filters: the 360° page runs it on every
    view)."""
    def build() -> Select[Any]:
        return (select(TimelineEntry).where(TimelineEntry.party_id == bindparam("party_id"),
                                            TimelineEntry.status == OPEN)
                .order_by(TimelineEntry.due_at, TimelineEntry.id).limit(limit))

    stmt = prepared(("timeline.open_followups", limit), build, TimelineEntry, user,
                    host_of(session))
    return list(session.scalars(stmt, {"party_id": party_id}))


def vehicle_timeline(session: Session, vehicle_id: int, user: Any,
                     limit: int = 50) -> list[TimelineEntry]:
    """Entries about one vehicle, whoever owned it then, that ``user`` may see."""
    stmt = (select(TimelineEntry).where(TimelineEntry.vehicle_id == vehicle_id)
            .order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc()))
    return list(session.scalars(visible(stmt, TimelineEntry, user).limit(limit)))


def check_assignee(session: Session, assignee_id: Any, field: str = "assignee_id") -> int | None:
    """The user a follow-up is assigned to must be an active account (added for the JSON
    API, where the id comes from the client). Returns the id, or None when none is given."""
    from carebiz.models import User

    if assignee_id in (None, ""):
        return None
    try:
        user = session.get(User, int(assignee_id))
    except (TypeError, ValueError, OverflowError):
        user = None
    if user is None or not user.active:
        raise ValidationFailed(_("No active user with id %(id)s.", id=assignee_id),
                               {field: _("No active user with this id.")})
    return user.id
