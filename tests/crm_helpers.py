"""Small helpers for CRM tests."""

from __future__ import annotations

from carebiz.crm.validation import vin_check_digit


def valid_vin(serial: int, wmi: str = "LGX") -> str:
    """A VIN with a correct check digit (9th character)."""
    body = f"{wmi}CE4C{serial % 100:02d}" + "0" + f"R1{serial:06d}"
    body = body[:17]
    return body[:8] + vin_check_digit(body) + body[9:]


def add_people(sess, people) -> dict[str, int]:  # noqa: ANN001 - test helper
    """Parties from ``(name, branch_id, city, segment, lifetime value, created_at)`` rows,
    written directly (no services: tests of queries need exact timestamps); id by name."""
    from decimal import Decimal

    from carebiz.crm.models import Party, PartyValue
    from carebiz.crm.services.parties import name_key

    ids = {}
    for name, branch, city, segment, value, created in people:
        party = Party(name=name, name_key=name_key(name), branch_id=branch, city=city,
                      created_at=created)
        sess.add(party)
        sess.flush()
        ids[name] = party.id
        if segment:
            sess.add(PartyValue(party_id=party.id, currency="CNY", segment=segment,
                                lifetime_value=Decimal(value)))
    return ids
