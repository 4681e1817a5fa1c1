"""The printable procurement plan of a branch (``/documents/sales.procurement_plan/<branch
id>``, HTML, PDF and Word through the core documents service): per model and colour what is
free in stock and how old, what is on the way, the orders waiting for a car and how many to
order; the open purchase orders below it. Built from :mod:`.services.procurement`."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.errors import NotFound
from carebiz.services.branches import usable_branches

from .documents import _common, _date, _party
from .labels import label
from .services.procurement import AGED_DAYS, procurement_plan


def build_procurement_plan(session: Session, record_id: int, *, user: Any, locale: str
                           ) -> dict[str, Any]:
    """The plan of branch ``record_id``; a branch the user does not work in is a 404."""
    loc = str(locale or "zh_CN")
    branch = next((b for b in usable_branches(session, user) if b.id == record_id), None)
    if branch is None:
        raise NotFound(_("No branch with id %(id)s.", id=record_id))
    plan = procurement_plan(session, user, branch.id)
    rows = [[" ".join(filter(None, [ln.make, ln.model])), ln.colour, str(ln.free),
             "" if ln.oldest_days is None else str(ln.oldest_days), str(ln.coming),
             str(ln.waiting), str(ln.to_order)] for ln in plan.lines]
    aged = sum(ln.aged for ln in plan.lines)
    coming = []
    for po, left in plan.purchases:
        supplier = _party(session, po.supplier_id)
        coming.append(_("Purchase order %(id)s, %(supplier)s: %(left)s to come, expected "
                        "%(on)s", id=po.id, supplier=supplier.name if supplier else "",
                        left=left, on=_date(po.expected_on, loc) or "—")
                      + f" ({label('purchase', po.status)})")
    notes = [_("To order = orders waiting for a car − free in stock − on the way.")]
    if aged:
        notes.append(_("%(n)s cars have been in stock %(days)s days or more: sell them "
                       "before ordering more of their model.", n=aged, days=AGED_DAYS))
    notes.extend(coming or [_("No open purchase orders.")])
    return {**_common(session, branch_for_common(branch), _("Procurement plan"), loc),
            "parties": [(_("Branch"), branch.name), (_("Date"), _date(plan.day, loc)),
                        (_("Cars to order"), str(sum(ln.to_order for ln in plan.lines))),
                        (_("Open purchase orders"), str(len(plan.purchases)))],
            "columns": [_("Model"), _("Colour"), _("Free in stock"), _("Oldest (days)"),
                        _("On the way"), _("Orders waiting for a car"), _("To order")],
            "rows": rows, "totals": [], "capital": None, "notes": " · ".join(notes)}


class branch_for_common:  # noqa: N801 - a view of the branch as _common reads a record
    """The branch as :func:`~.documents._common` reads a record (its ``branch_id``)."""

    def __init__(self, branch: Any) -> None:
        self.branch_id = branch.id
