"""The CRM's widgets on the home page (``home_widgets``): the user's follow-ups due today and
overdue (and, for a manager, their branches'), with the first few to act on, and the records
they opened last. A handful of indexed queries, all through the user's row filters."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.contributions import Panel
from carebiz.crm.models import Party, TimelineEntry
from carebiz.crm.services import timeline
from carebiz.db import utcnow
from carebiz.security import can, visible
from carebiz.toolkit import end_of_today, is_manager

#: follow-ups listed on the widget (the My day page lists them all)
SHOWN = 5


def widgets(session: Session, user: Any) -> list[Panel]:
    """The follow-ups widget for users who work follow-ups, the recent-records widget for
    everyone who opened a record."""
    if not getattr(user, "is_authenticated", False):
        return []
    out = []
    if can(user, "crm.timeline.edit"):
        out.append(followups_widget(session, user))
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
