"""The CRM's widgets on the home page (``home_widgets``): the user's follow-ups due today and
overdue (and, for a manager, their branches'), with the first few to act on, and the records
they opened and changed last. A handful of indexed queries, all through the user's row
filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.contributions import Panel
from carebiz.crm.models import Party, TimelineEntry, Vehicle
from carebiz.crm.services import timeline
from carebiz.crm.services import vehicles as vehicle_service
from carebiz.db import utcnow
from carebiz.models.audit import AuditEntry
from carebiz.security import can, visible
from carebiz.toolkit import end_of_today, is_manager

#: follow-ups listed on the widget (the My day page lists them all)
SHOWN = 5
#: records listed on the "recently changed" widget, and how far back it looks
CHANGED_SHOWN = 8
CHANGED_DAYS = 30


def widgets(session: Session, user: Any) -> list[Panel]:
    """The follow-ups widget for users who work follow-ups, the records the user changed
    last (what they were working on), and the records they opened last."""
    if not getattr(user, "is_authenticated", False):
        return []
    out = []
    if can(user, "crm.timeline.edit"):
        out.append(followups_widget(session, user))
    changed = changed_widget(session, user)
    if changed is not None:
        out.append(changed)
    recent = recent_widget()
    if recent is not None:
        out.append(recent)
    return out


def followups_widget(session: Session, user: Any) -> Panel:
    now, today_end = utcnow(), end_of_today()
    manager = is_manager(user)
    counts = timeline.due_counts(session, user, now=now, today_end=today_end)
    whole = manager and counts.mine == 0 and counts.everyone > 0
    stmt = visible(timeline.my_day(user, today_end=today_end, whole_branch=whole),
                   TimelineEntry, user)
    entries = list(session.scalars(stmt.limit(SHOWN)))
    ids = sorted({e.party_id for e in entries})
    customers = ({p.id: p for p in session.scalars(
        visible(select(Party).where(Party.id.in_(ids)), Party, user))} if ids else {})
    html = render_template("crm/_home_followups.html", counts=counts, manager=manager,
                           whole=whole, entries=entries, customers=customers, now=now,
                           kinds=timeline.known_kinds(session))
    return Panel("crm.followups", _l("My follow-ups"), html, weight=10,
                 summary={"mine_overdue": counts.mine_overdue, "mine_today": counts.mine_today,
                          "all_overdue": counts.all_overdue if manager else None,
                          "all_today": counts.all_today if manager else None})


def recent_widget() -> Panel | None:
    """The records the user opened last: the navbar's trail, read once per request."""
    from carebiz.crm.views import recent_links

    links = recent_links()[:8]
    if not links:
        return None
    html = render_template("crm/_home_recent.html", links=links)
    return Panel("crm.recent", _l("Recently opened"), html, weight=20,
                 summary={"records": len(links)})


def changed_records(session: Session, user: Any, *, limit: int = CHANGED_SHOWN,
                    days: int = CHANGED_DAYS) -> list[dict[str, Any]]:
    """The records the user changed last, newest first, one line per record (from the audit
    log: every change of every plugin is written there with its actor).

    A record reads as its name only when the user may still see it now (a customer moved to
    another branch since reads as "Customer 12" without a link, like in the audit log)."""
    since = utcnow() - dt.timedelta(days=days)
    last = func.max(AuditEntry.at).label("last")
    rows = session.execute(
        select(AuditEntry.entity_type, AuditEntry.entity_id, last)
        .where(AuditEntry.actor_id == user.id, AuditEntry.at >= since)
        .group_by(AuditEntry.entity_type, AuditEntry.entity_id)
        .order_by(last.desc()).limit(limit)).all()
    ids: dict[str, list[int]] = {"party": [], "vehicle": []}
    for kind, ident, _at in rows:
        if kind in ids and str(ident).isdigit():
            ids[kind].append(int(ident))
    names: dict[tuple[str, str], str] = {}
    if ids["party"]:
        for pid, name in session.execute(visible(
                select(Party.id, Party.name).where(Party.id.in_(ids["party"])), Party, user)):
            names[("party", str(pid))] = name
    if ids["vehicle"]:
        for car in session.scalars(visible(
                select(Vehicle).where(Vehicle.id.in_(ids["vehicle"])), Vehicle, user)):
            names[("vehicle", str(car.id))] = vehicle_service.vehicle_label(car)
    from carebiz.web.links import record_label, record_url

    out = []
    for kind, ident, at in rows:
        name = names.get((kind, str(ident)))
        hidden = kind in ids and name is None
        out.append({"label": name or record_label(kind, ident), "type": kind, "at": at,
                    "url": None if hidden else record_url(kind, ident)})
    return out


def changed_widget(session: Session, user: Any) -> Panel | None:
    """The records the user changed last: where they left off."""
    links = changed_records(session, user)
    if not links:
        return None
    html = render_template("crm/_home_recent.html", links=links, testid="home-changed")
    return Panel("crm.changed", _l("Recently changed by you"), html, weight=15,
                 summary={"records": len(links)})
