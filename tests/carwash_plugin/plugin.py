"""Manifest and hook implementations of the car wash (entry point ``wash``)."""

from datetime import timedelta
from typing import Any

import click
from babel.numbers import format_currency
from flask import current_app, render_template
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from carebiz import contributions as c
from carebiz import db, hookimpl
from carebiz.crm import signals as crm_signals
from carebiz.errors import NotFound
from carebiz.plugins import PluginManifest
from carebiz.plugins.capabilities import Capability
from carebiz.security import can, visible
from carebiz.toolkit import one_visible

from . import __version__, api, hooks, services, signals, views
from .models import WashCard, WashTicket
from .ticket_list import TICKETS

manifest = PluginManifest(name="wash", version=__version__, label=_l("Car wash"),
                          package="tests.carwash_plugin")

STAFF = ("manager", "salesperson", "service_adviser", "technician", "read_only")


@hookimpl
def models() -> list[type]:
    return [WashCard, WashTicket]


@hookimpl
def web_blueprints() -> list[Any]:
    return [views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    return [api.blp]


@hookimpl
def hookspecs() -> list[Any]:
    return [hooks]


@hookimpl
def permissions() -> list[c.Permission]:
    return [c.Permission("wash.view", _l("See wash tickets"), default_roles=STAFF, weight=600),
            c.Permission("wash.wash", _l("Open and finish washes"),
                         default_roles=("manager", "technician"), weight=601)]


@hookimpl
def menu_items(user: Any) -> list[c.MenuItem]:
    return [c.MenuItem("wash", _l("Car wash"), "wash.index", "wash.view", icon="droplet")]


@hookimpl
def row_filters(model: Any, user: Any) -> list[Any]:
    """Stale tickets (left open overnight) are for those who may wash, not for readers."""
    hide = model is WashTicket and not can(user, "wash.wash")
    return [WashTicket.status != "stale"] if hide else []


def _panel(session: Any, user: Any, column: Any, value: int) -> list[c.Panel]:
    if not can(user, "wash.view"):
        return []
    stmt = visible(select(WashTicket).where(column == value), WashTicket, user)
    tickets = session.scalars(stmt.order_by(WashTicket.id.desc())).all()
    html = render_template("wash/panel.html", tickets=tickets)
    return [c.Panel("wash", _l("Car washes"), html, weight=600, summary={"washes": len(tickets)})]


@hookimpl
def customer_panels(session: Any, customer: Any, user: Any) -> list[c.Panel]:
    return _panel(session, user, WashTicket.customer_id, customer.id)


@hookimpl
def vehicle_panels(session: Any, vehicle: Any, user: Any) -> list[c.Panel]:
    return _panel(session, user, WashTicket.vehicle_id, vehicle.id)


@hookimpl
def timeline_kinds() -> list[c.TimelineKind]:
    return [c.TimelineKind("wash.done", _l("Car washed"), "droplet")]


@hookimpl
def record_pages() -> list[c.RecordPage]:
    return [c.RecordPage("wash_ticket", "wash.ticket", "ticket_id", "wash.view",
                         label=_l("Wash ticket"))]


@hookimpl
def customer_lookup(session: Any, query: str, user: Any) -> list[c.LookupHit]:
    owner = services.card_owner(session, query)
    return [] if owner is None else [c.LookupHit(owner, 100, _("wash card %(n)s", n=query))]


@hookimpl
def customer_merge(session: Any, keep: Any, remove: Any) -> None:
    for model in (WashTicket, WashCard):  # inside the merge's transaction: no commit
        session.execute(update(model).where(model.customer_id == remove.id)
                        .values(customer_id=keep.id))


@hookimpl
def query_sources() -> list[c.QuerySource]:
    fields = (c.QueryField("program", _l("Program"), "text"),
              c.QueryField("price", _l("Price"), "number"),
              c.QueryField("done_at", _l("Washed at"), "datetime"))
    return [c.QuerySource("wash_tickets", _l("Wash tickets"), WashTicket, fields,
                          permission="wash.view", weight=600)]


@hookimpl
def reports() -> list[c.Report]:
    return [c.Report("wash.by_month", _l("Washes by month"), "wash_tickets",
                     params=(c.ReportParam("days", _l("Days back"), "number", 90),),
                     where={"field": "done_at", "op": "last_days", "value": {"param": "days"}},
                     group_by=[{"field": "done_at", "by": "month"}], chart="line")]


@hookimpl
def export_tables() -> list[c.ExportTable]:
    return [c.ExportTable.of_list(TICKETS, weight=600)]


def build_print(session: Any, record_id: int, *, user: Any, locale: str) -> dict[str, Any]:
    ticket = one_visible(WashTicket, record_id, user, session=session)
    if ticket is None:
        raise NotFound(_("No wash ticket %(id)s.", id=record_id))
    return {"title": _("Wash ticket %(id)s", id=ticket.id),
            "parties": [(_("Plate"), ticket.plate)], "columns": [_("Program"), _("Price")],
            "rows": [[ticket.program, format_currency(ticket.price, "CNY", locale=locale)]],
            "ticket": ticket}


@hookimpl
def document_types() -> list[c.DocumentType]:
    return [c.DocumentType("wash.ticket", _l("Wash ticket"), "wash/print.html", build_print,
                           permission="wash.view")]


wash_cli = AppGroup("wash", help="Car wash commands.")  # its commands get the app context


@wash_cli.command("issue-card")
@click.argument("customer_id", type=int)
@click.argument("number")
def issue_card(customer_id: int, number: str) -> None:
    """Issue wash card NUMBER to customer CUSTOMER_ID."""
    card = services.issue_card(db.session(), customer_id, number)
    db.session().commit()
    click.echo(f"card {card.number} issued")


@hookimpl
def cli_commands() -> list[click.Command]:
    return [wash_cli]


@hookimpl
def demo_data(session: Any, branches: list[Any], users: dict[str, Any]) -> None:
    customer = session.scalar(select(services.Party).order_by(services.Party.id).limit(1))
    if customer is None or session.scalar(select(WashTicket.id).limit(1)):
        return  # no demo customer, or the demo ran before
    services.create_ticket(session, user=users["manager"], customer_id=customer.id,
                           program="basic", plate="DEMO-1", branch_id=customer.branch_id)


def close_stale(ctx: Any, **params: Any) -> dict[str, int]:
    closed = services.close_stale(db.session())
    db.session().commit()
    return {"closed": closed}


@hookimpl
def tasks() -> list[c.Task]:
    return [c.Task("wash.close_stale", _l("Close stale wash tickets"), close_stale)]


@hookimpl
def scheduled_jobs() -> list[c.ScheduledJob]:
    return [c.ScheduledJob("wash.nightly", "wash.close_stale", timedelta(days=1))]


@hookimpl
def settings() -> list[c.SettingSpec]:
    return [c.SettingSpec("wash.base_price", "30", _l("Price of a basic wash"), "decimal")]


class BayBooking:
    """The ``wash.bay_booking`` capability: how many tickets wait for a bay now."""

    def queue_length(self, session: Any) -> int:
        return session.scalar(select(func.count(WashTicket.id)).where(WashTicket.status == "open"))


@hookimpl
def capabilities() -> list[Capability]:
    return [Capability("wash.bay_booking", BayBooking(), "Wash bays waiting")]


def log_event(sender: Any, **payload: Any) -> None:
    current_app.logger.info("wash saw %s", sorted(payload.items()))


@hookimpl
def event_receivers() -> list[c.EventReceiver]:
    return [c.EventReceiver(crm_signals.timeline_entry_added, log_event, name="wash.timeline"),
            c.EventReceiver(signals.ticket_finished, log_event, name="wash.finished")]
