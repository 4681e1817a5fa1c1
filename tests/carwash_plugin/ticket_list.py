"""The one list of wash tickets: its page, its API and every export read this definition."""

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz.export.table import MONEY, NUMBER, Column
from carebiz.lists import CHOICE, ExportSpec, Filter, ListDefinition

from .models import WashTicket

STATUSES = ("open", "done", "stale")


def _rows(session: Any, user: Any, stmt: Any) -> Any:
    for t in session.scalars(stmt.execution_options(yield_per=500)):
        yield {key: getattr(t, key) for key in ("id", "plate", "program", "price", "status")}


TICKETS = ListDefinition(
    name="wash.tickets", label=_l("Wash tickets"), model=WashTicket, key=WashTicket.id,
    permission="wash.view", page="wash.index", api="wash_api.Tickets",
    filters=(Filter("status", _l("Status"), type=CHOICE, choices=STATUSES,
                    apply=lambda stmt, value, user: stmt.where(WashTicket.status == value)),),
    sorts={"created_at": WashTicket.created_at, "plate": WashTicket.plate},
    default_sort="-created_at",
    export=ExportSpec(_l("Wash tickets"), lambda user: [
        Column("id", _l("Ticket"), NUMBER), Column("plate", _l("Plate")),
        Column("program", _l("Program")), Column("price", _l("Price"), MONEY, currency="CNY"),
        Column("status", _l("Status"))], _rows),
)
