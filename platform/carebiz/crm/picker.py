"""Choosing a customer by what the desk knows (a name, a phone number, a plate) instead of
typing a customer number: the owner change of a vehicle uses it.

With script, the text box asks :func:`options` as the user types and offers the answers in a
``<datalist>``; each option's text ends with ``#<id>``, which :func:`resolve` reads back.
Without script, the typed text is searched on submit and the page offers the matches to tick
(search, then choose). Both go through :func:`carebiz.crm.services.lookup.lookup`, which only
returns active customers the user may see: another branch's customer is never offered and
its name never shown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.crm import validation as v
from carebiz.crm.models import Party
from carebiz.crm.services import lookup as lookup_service
from carebiz.crm.services.common import setting
from carebiz.toolkit import one_visible

#: an option's text ends with the customer's number, e.g. "Li Na · 138 0013 8000 · #12"
_CHOSEN = re.compile(r"#(\d{1,18})\s*$")
#: answers offered while typing, and matches offered to tick without script
LIMIT = 10


def option_label(session: Session, party: Party) -> str:
    """What an option shows: the name, the first phone number and the customer number."""
    region = str(setting(session, "crm.phone_region") or "CN")
    phone = v.format_phone(party.phone_numbers[0], region) if party.phone_numbers else ""
    return " · ".join(filter(None, [party.name, phone, f"#{party.id}"]))


def options(session: Session, user: Any, query: str) -> list[dict[str, Any]]:
    """The customers the user may see that match ``query`` (2 characters at least), best
    first, as ``{"id", "label"}`` for the datalist."""
    query = (query or "").strip()
    if len(query) < 2:
        return []
    return [{"id": hit.party.id, "label": option_label(session, hit.party)}
            for hit in lookup_service.lookup(session, user, query, limit=LIMIT)]


@dataclass
class Picked:
    """The outcome of a submitted picker: the customer, or why there is none yet (with the
    matches to choose from when the text was a search)."""

    party: Party | None = None
    error: str = ""
    matches: list[dict[str, Any]] = field(default_factory=list)


def resolve(session: Session, user: Any, text: str, chosen_id: Any = None) -> Picked:
    """The customer a submitted picker names: a ticked match (``chosen_id``), an option taken
    from the list (text ending ``#<id>``), else the text is searched and the matches are
    offered (even a single one: handing a car to someone deserves a look at who it is)."""
    text = (text or "").strip()
    wanted = str(chosen_id or "").strip()
    if not wanted:
        chosen = _CHOSEN.search(text)
        wanted = chosen.group(1) if chosen else ""
    if wanted:
        party = one_visible(Party, wanted)
        if party is None or not party.active:
            return Picked(error=_("No active customer with this number."))
        return Picked(party)
    if not text:
        return Picked(error=_("Type a name, phone number or plate and choose the customer."))
    matches = options(session, user, text)
    if not matches:
        return Picked(error=_("No customer you may see matches “%(text)s”.", text=text))
    return Picked(error=_("Choose the customer from the matches."), matches=matches)
