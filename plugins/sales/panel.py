"""The "Sales" panel of the customer's 360° page: their prospects, return visits and test
drives, and orders (the sale: status, total, VIN), as the reader may see them."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from carebiz.contributions import Panel
from carebiz.security import can, visible
from carebiz.toolkit import today

from .labels import label
from .models import SalesOrder, SalesProspect, SalesReturnVisit, SalesTestDrive
from .services.choices import LOST_REASON_LIST, POINT_LIST, SOURCE_LIST
from .services.visits import OPEN, is_overdue, outcome_label


def customer_panel(session: Any, customer: Any, user: Any) -> list[Panel]:
    if not can(user, "sales.view"):
        return []

    def rows(model: Any, order: Any, limit: int = 20) -> list[Any]:
        stmt = select(model).where(model.customer_id == customer.id).order_by(order)
        return list(session.scalars(visible(stmt, model, user).limit(limit)))

    prospects = rows(SalesProspect, SalesProspect.registered_at.desc())
    visits = rows(SalesReturnVisit, SalesReturnVisit.due_at.desc())
    drives = rows(SalesTestDrive, SalesTestDrive.starts_at.desc(), 10)
    sales = rows(SalesOrder, SalesOrder.id.desc(), 10)  # the sale itself: status and car
    if not (prospects or visits or drives or sales):
        return []
    day = today()
    html = render_template("sales/panel.html", prospects=prospects, visits=visits,
                           drives=drives, orders=sales, order_label=label, day=day,
                           is_overdue=is_overdue,
                           outcome_label=outcome_label, sources=SOURCE_LIST,
                           points=POINT_LIST, reasons=LOST_REASON_LIST)
    return [Panel("sales", _l("Sales"), html, weight=300, summary={
        "prospects": [{"id": p.id, "status": p.status} for p in prospects],
        "open_visits": sum(1 for v in visits if v.status == OPEN),
        "overdue_visits": sum(1 for v in visits if is_overdue(v, day)),
        "test_drives": len(drives),
        "orders": [{"id": o.id, "status": o.status} for o in sales]})]
