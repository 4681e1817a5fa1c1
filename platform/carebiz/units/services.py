"""Packaging units and conversions that know them; unit prices.

A packaging unit is ``1 <name> = factor <base_unit>`` (``box12 = 12 piece``,
``drum200 = 200 L``); its category is its base unit's, so ``box12 -> drum200`` is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.units import registry
from carebiz.units.models import PackagingUnit
from carebiz.units.signals import packaging_unit_defined

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
#: largest factor accepted (the column holds 14 digits before the point)
MAX_FACTOR = Decimal("1e14")


def packaging_table(session: Session) -> dict[str, tuple[str, Decimal]]:
    """Active packaging units as ``name -> (base_unit, factor)`` for the registry."""
    rows = session.execute(select(PackagingUnit.name, PackagingUnit.base_unit,
                                  PackagingUnit.factor)
                           .where(PackagingUnit.active.is_(True)))
    return {name: (base, Decimal(factor)) for name, base, factor in rows}


def packaging_units(session: Session) -> list[PackagingUnit]:
    return list(session.scalars(select(PackagingUnit).where(PackagingUnit.active.is_(True))
                                .order_by(PackagingUnit.name)))


def category_of(session: Session, unit: str) -> str:
    return registry.resolve(unit, "unit", packaging_table(session)).category


def define_packaging_unit(session: Session, name: str, label: str, base_unit: str,
                          factor: Any) -> PackagingUnit:
    """Define ``1 name = factor base_unit``. The base unit is a known unit of a linear
    category (a physical unit or another packaging unit, not a fuel economy); the name is
    new and no pint unit. Audited; flushes, the caller commits."""
    name = (name or "").strip()
    base_unit = (base_unit or "").strip()
    label = (label or "").strip()
    errors: dict[str, str] = {}
    table = packaging_table(session)
    if not NAME_RE.match(name):
        errors["name"] = _("Letters, digits and _, starting with a letter; at most 40.")
    elif (name in registry._fuel_units() or registry.is_pint_unit(name)):
        errors["name"] = _("'%(name)s' is already a physical unit; choose another name.",
                           name=name)
    elif session.scalar(select(PackagingUnit.id).where(
            func.lower(PackagingUnit.name) == name.lower())) is not None:
        raise Conflict(_("A packaging unit named '%(name)s' already exists.", name=name),
                       {"name": _("Already exists.")})
    category = None
    try:
        category = registry.resolve(base_unit, "base_unit", table).category
    except ValidationFailed as exc:
        errors["base_unit"] = exc.message
    if category == "fuel_economy":
        errors["base_unit"] = _("A fuel economy cannot be packed; choose a unit of count, "
                                "length, volume, mass …")
    try:
        number = registry.parse_decimal(factor, "factor")
    except ValidationFailed:
        number = None
        errors["factor"] = _("Not a number.")
    if number is not None and not Decimal(0) < number < MAX_FACTOR:
        errors["factor"] = _("Greater than 0 and less than 10^14.")
    elif number is not None and number != number.quantize(Decimal("1e-10")):
        errors["factor"] = _("At most 10 decimal places.")
    if len(label) > 100:
        errors["label"] = _("At most 100 characters.")
    if errors:
        raise ValidationFailed(_("The packaging unit is not valid."), errors)
    unit = PackagingUnit(name=name, label=label or name, base_unit=base_unit,
                         factor=number)
    session.add(unit)
    session.flush()
    text = registry.to_text(number)
    emit(session, packaging_unit_defined, unit_id=unit.id, name=name, base_unit=base_unit,
         factor=text,
         audit=Audit("packaging_unit", unit.id,
                     N_("Defined the packaging unit %(name)s = %(factor)s %(base)s"),
                     after={"name": name, "label": unit.label, "base_unit": base_unit,
                            "factor": text},
                     args={"name": name, "factor": text, "base": base_unit}))
    return unit


def convert(session: Session, value: Any, from_unit: str, to_unit: str,
            digits: int = registry.SIGNIFICANT_DIGITS) -> Decimal:
    """Convert between physical and packaging units (``box12 -> piece``,
    ``drum200 -> gal``); across categories a 422 naming both."""
    return registry.convert(value, from_unit, to_unit, packaging_table(session), digits)


@dataclass(frozen=True)
class UnitPrice:
    amount: Decimal
    currency: str
    unit: str

    def as_json(self) -> dict[str, str]:
        return {"amount": registry.to_text(self.amount), "currency": self.currency,
                "unit": self.unit}


def price_per(session: Session, amount: Any, currency: str, per_unit: str, to_unit: str,
              digits: int = registry.SIGNIFICANT_DIGITS) -> UnitPrice:
    """A price per ``per_unit`` as a price per ``to_unit``: it converts inversely to the
    quantity (¥120 per box12 = ¥10 per piece). Rounded to ``digits`` significant digits;
    rounding to the currency's minor unit is the caller's business."""
    number = registry.parse_decimal(amount, "amount")
    table = packaging_table(session)
    source = registry.resolve(per_unit, "from", table)
    target = registry.resolve(to_unit, "to", table)
    if source.fuel is not None or target.fuel is not None:
        message = _("A price cannot be per fuel economy.")
        raise ValidationFailed(message, {"from" if source.fuel else "to": message})
    if source.category != target.category:
        raise registry.cannot_convert(source, target)
    with localcontext() as ctx:
        ctx.prec = registry.WORKING_PRECISION
        # price per target = price per source × (sources in one target)
        per_target = number * registry.ratio(target, source)
    return UnitPrice(registry.round_significant(per_target, digits), currency, to_unit)
