"""The "Sales" panel of the customer's 360° page: their prospects, return visits and test
drives, and orders (the sale: status, total, VIN), as the reader may see them."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, exists, or_, select

from carebiz.contributions import Panel
from carebiz.security import can
from carebiz.security.rows import prepared
from carebiz.toolkit import today

from .labels import label
from .models import SalesOrder, SalesProspect, SalesReturnVisit, SalesTestDrive
from .services.choices import LOST_REASON_LIST, POINT_LIST, SOURCE_LIST
from .services.visits import OPEN, is_overdue, outcome_label

#: (model, its newest-first order, how many rows the panel shows) of each list
_LISTS: dict[str, tuple[Any, Any, int]] = {
    "prospects": (SalesProspect, SalesProspect.registered_at.desc(), 20),
    "visits": (SalesReturnVisit, SalesReturnVisit.due_at.desc(), 20),
    "drives": (SalesTestDrive, SalesTestDrive.starts_at.desc(), 10),
    "orders": (SalesOrder, SalesOrder.id.desc(), 10),  # the sale itself: status and car
}


def _builder(name: str) -> Callable[[], Select[Any]]:
    model, order, limit = _LISTS[name]

    def build() -> Select[Any]:
        return (select(model).where(model.customer_id == bindparam("customer_id"))
                .order_by(order).limit(limit))
    return build


@cache
def _any_sales() -> Select[Any]:
    """Whether the customer has a row in any of the four lists, before the reader's row
    filters: one statement (built once) instead of four for the many customers that never
    met sales. It can only say "maybe": the four filtered lists decide what is shown."""
    customer = bindparam("customer_id")
    return select(or_(*(exists().where(model.customer_id == customer)
                        for model, _order, _limit in _LISTS.values())))


def customer_panel(session: Any, customer: Any, user: Any) -> list[Panel]:
    """The panel, or none when the customer has nothing in sales (then one statement, not
    four). Its four statements are built once per process and shape of the reader's row
    filters (``prepared``: building and cache-keying an ORM statement costs more than
    SQLite takes to run it, and the 360° page is opened all day long); the customer is
    their bound ``customer_id``."""
    if not can(user, "sales.view"):
        return []
    params = {"customer_id": customer.id}
    if not session.scalar(_any_sales(), params):
        return []

    def rows(name: str) -> list[Any]:
        model = _LISTS[name][0]
        stmt = prepared(("sales.panel", name), _builder(name), model, user)
        return list(session.scalars(stmt, params))

    prospects = rows("prospects")
    visits = rows("visits")
    drives = rows("drives")
    sales = rows("orders")
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
