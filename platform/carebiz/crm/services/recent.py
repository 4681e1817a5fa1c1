"""A per-user trail of recently opened records (customers, vehicles, plugin documents)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, RecentView, Vehicle
from carebiz.crm.services.common import host_of
from carebiz.db import utcnow
from carebiz.security.rows import hidden_ids

KEEP = 20


def record_view(session: Session, user: Any, entity_type: str, entity_id: Any,
                label: str) -> None:
    """Remember that ``user`` opened a record; keep the newest :data:`KEEP`."""
    if not getattr(user, "is_authenticated", False):
        return
    key = (user.id, entity_type, str(entity_id))
    row = session.get(RecentView, key)
    if row is None:
        session.add(RecentView(user_id=user.id, entity_type=entity_type,
                               entity_id=str(entity_id), label=label[:200]))
    else:
        row.viewed_at, row.label = utcnow(), label[:200]
    session.flush()
    old = session.execute(select(RecentView.entity_type, RecentView.entity_id)
                          .where(RecentView.user_id == user.id)
                          .order_by(RecentView.viewed_at.desc()).offset(KEEP)).all()
    for entity, ident in old:
        session.execute(delete(RecentView).where(RecentView.user_id == user.id,
                                                 RecentView.entity_type == entity,
                                                 RecentView.entity_id == ident))


def trail(session: Session, user: Any, limit: int = 10) -> list[RecentView]:
    """The newest records the user opened, less the customers and vehicles they may no
    longer see (a record moved to another branch, a branch taken from the user): the label
    is the name as it was, and it stays with the branch."""
    if not getattr(user, "is_authenticated", False):
        return []
    rows = list(session.scalars(select(RecentView).where(RecentView.user_id == user.id)
                                .order_by(RecentView.viewed_at.desc()).limit(limit)))
    hidden = {(kind, str(i)) for kind, model in (("party", Party), ("vehicle", Vehicle))
              for i in hidden_ids(session, model, user,
                                  {int(r.entity_id) for r in rows
                                   if r.entity_type == kind and r.entity_id.isdigit()},
                                  host_of(session))}
    return [r for r in rows if (r.entity_type, r.entity_id) not in hidden]
