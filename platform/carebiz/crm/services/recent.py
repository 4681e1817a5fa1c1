"""A per-user trail of recently opened records (customers, vehicles, plugin documents)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, RecentView, Vehicle
from carebiz.crm.services.common import host_of
from carebiz.db import utcnow
from carebiz.security.rows import hidden_ids

KEEP = 20
#: a record opened again this soon is not written again (unless it dropped out of the trail
#: shown): a write per page view would make every reader of a SQLite database wait
REFRESH = dt.timedelta(minutes=5)


def seen_recently(trail: list[Any], entity_type: str, entity_id: Any,
                  label: str) -> bool:
    """True when the trail already says what a new view would: the record is the newest
    entry, or was opened less than :data:`REFRESH` ago, under the same label."""
    key, now = (entity_type, str(entity_id)), utcnow()
    for position, row in enumerate(trail):
        if (row.entity_type, row.entity_id) == key:
            return row.label == label[:200] and (position == 0 or now - row.viewed_at < REFRESH)
    return False


def record_view(session: Session, user: Any, entity_type: str, entity_id: Any,
                label: str, trail: list[Any] | None = None) -> bool:
    """Remember that ``user`` opened a record; keep the newest :data:`KEEP`. With the
    user's ``trail`` (as :func:`trail` read it), a view the trail already shows is not
    written again. Returns whether anything was written."""
    if not getattr(user, "is_authenticated", False):
        return False
    if trail is not None and seen_recently(trail, entity_type, entity_id, label):
        return False
    key = (user.id, entity_type, str(entity_id))
    row = session.get(RecentView, key)
    if row is not None:
        row.viewed_at, row.label = utcnow(), label[:200]
        session.flush()
        return True
    session.add(RecentView(user_id=user.id, entity_type=entity_type,
                           entity_id=str(entity_id), label=label[:200]))
    session.flush()
    old = session.execute(select(RecentView.entity_type, RecentView.entity_id)
                          .where(RecentView.user_id == user.id)
                          .order_by(RecentView.viewed_at.desc()).offset(KEEP)).all()
    for entity, ident in old:
        session.execute(delete(RecentView).where(RecentView.user_id == user.id,
                                                 RecentView.entity_type == entity,
                                                 RecentView.entity_id == ident))
    return True


@functools.lru_cache(maxsize=8)
def _trail_statement(limit: int) -> Any:
    """The trail's statement, built once (every page reads it for the navbar, and building
    and cache-keying an ORM statement costs more than SQLite takes to run it): of the table's
    columns, so it runs as a plain statement; the user is the bound ``user_id``."""
    table = RecentView.__table__
    return (select(table.c.entity_type, table.c.entity_id, table.c.label, table.c.viewed_at)
            .where(table.c.user_id == bindparam("user_id"))
            .order_by(table.c.viewed_at.desc()).limit(limit))


def trail(session: Session, user: Any, limit: int = 10) -> list[Any]:
    """The newest records the user opened, less the customers and vehicles they may no
    longer see (a record moved to another branch, a branch taken from the user): the label
    is the name as it was, and it stays with the branch. Rows with ``entity_type``,
    ``entity_id``, ``label`` and ``viewed_at``."""
    if not getattr(user, "is_authenticated", False):
        return []
    # plain rows, not ORM objects: read on every page for the navbar, never changed
    rows = list(session.execute(_trail_statement(limit), {"user_id": user.id}))
    hidden = {(kind, str(i)) for kind, model in (("party", Party), ("vehicle", Vehicle))
              for i in hidden_ids(session, model, user,
                                  {int(r.entity_id) for r in rows
                                   if r.entity_type == kind and r.entity_id.isdigit()},
                                  host_of(session))}
    return [r for r in rows if (r.entity_type, r.entity_id) not in hidden]
