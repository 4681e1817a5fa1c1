"""Rules of wash tickets and cards: no Flask request needed, never commits."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carebiz.crm.models import Party, Vehicle
from carebiz.crm.timeline import add_entry
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.services import settings
from carebiz.services.branches import default_branch_for
from carebiz.toolkit import end_of_today, host, one_visible

from . import signals
from .models import WashCard, WashTicket

PROGRAMS = ("basic", "premium")


def price_of(session: Session, program: str, customer_id: int) -> Decimal:
    """The setting's base price (premium doubles it) minus another plugin's discount."""
    base = Decimal(str(settings.get(session, host(), "wash.base_price")))
    discount = host().call("wash_discount", program=program, customer_id=customer_id)
    return max(base * (2 if program == "premium" else 1) - (discount or 0), Decimal(0))


def create_ticket(session: Session, *, user: Any, customer_id: Any, program: Any,
                  vehicle_id: Any = None, plate: str = "", branch_id: Any = None) -> WashTicket:
    """Open a ticket for a customer the user sees; every broken rule is named at once."""
    errors: dict[str, str] = {}
    customer = one_visible(Party, customer_id, user, session=session)
    if customer is None:
        errors["customer_id"] = _("Choose a customer you can see.")
    if program not in PROGRAMS:
        errors["program"] = _("Choose basic or premium.")
    vehicle = one_visible(Vehicle, vehicle_id, user, session=session) if vehicle_id else None
    if vehicle_id and vehicle is None:
        errors["vehicle_id"] = _("No such vehicle.")
    plate = (plate or getattr(vehicle, "plate", "") or "").strip()
    if not plate:
        errors["plate"] = _("Give the plate.")
    branch = (branch_id or getattr(default_branch_for(session, user), "id", None)
              or getattr(customer, "branch_id", None))
    if branch is None:
        errors["branch_id"] = _("Choose a branch.")
    if errors:
        raise ValidationFailed(_("The wash ticket was not saved."), errors)
    ticket = WashTicket(customer_id=customer.id, vehicle_id=vehicle_id, plate=plate,
                        program=program, price=price_of(session, program, customer.id),
                        branch_id=branch)
    session.add(ticket)
    session.flush()
    return ticket


def finish_ticket(session: Session, ticket: WashTicket, user: Any) -> WashTicket:
    """Close the ticket, put the wash on the customer's timeline, send wash.ticket.finished."""
    if ticket.status != "open":
        raise ValidationFailed(_("This ticket is already closed."), {"status": _("Closed.")})
    ticket.status = "done"
    ticket.done_at = datetime.now(UTC)
    add_entry(session, party_id=ticket.customer_id, kind="wash.done", user=user,
              subject=_("Washed %(plate)s", plate=ticket.plate), ref_type="wash_ticket",
              ref_id=ticket.id, vehicle_id=ticket.vehicle_id)
    emit(session, signals.ticket_finished, ticket_id=ticket.id, party_id=ticket.customer_id,
         price=str(ticket.price), audit=Audit(
             "wash_ticket", ticket.id, N_("Wash ticket %(id)s finished"), args={"id": ticket.id},
             after={"status": "done"}, branch_id=ticket.branch_id))
    return ticket


def issue_card(session: Session, customer_id: int, number: str) -> WashCard:
    """Give a customer a card; its number must be new (numbers are kept upper-case)."""
    number, errors = number.strip().upper(), {}
    if session.get(Party, customer_id) is None:
        errors["customer_id"] = _("No such customer.")
    if not number or card_owner(session, number) is not None:
        errors["number"] = _("Give a card number not in use.")
    if errors:
        raise ValidationFailed(_("The wash card was not issued."), errors)
    card = WashCard(number=number, customer_id=customer_id)
    session.add(card)
    session.flush()
    return card


def card_owner(session: Session, number: str) -> int | None:
    return session.scalar(select(WashCard.customer_id).where(
        WashCard.number == number.strip().upper()))


def close_stale(session: Session) -> int:
    """The nightly task: tickets left open since before today are closed as 'stale'."""
    stmt = update(WashTicket).where(WashTicket.status == "open",
                                    WashTicket.created_at <= end_of_today() - timedelta(days=1))
    return session.execute(stmt.values(status="stale")).rowcount
