"""The process's unit registry: categories, physical units through pint, fuel economy.

* One :class:`pint.UnitRegistry` is built once per process (:func:`ureg`), with Decimal
  magnitudes (``non_int_type=Decimal``), so factors such as ``1 mi = 1.609344 km`` are exact
  and results carry no float noise. It adds the count units ``piece`` (alias ``ea``;
  ``count`` is pint's own), ``pair`` and ``dozen``.
* Every unit belongs to exactly one category (:data:`CATEGORIES`) with one reference unit.
  Membership is by pint dimensionality (length, volume …) or by an explicit list (count, fuel
  economy); a unit of no category (``percent``, ``degC``, ``parsec/s``) is not supported.
* Fuel economy is handled here, not by pint: ``L/100km`` is the *inverse* of ``km/L`` and
  ``mpg``, so it does not convert by a factor. Each fuel unit is expressed in ``km/L``
  either directly (``km/L = value × a``) or inversely (``km/L = a / value``).
* Decimals in, decimals out: results are rounded to :data:`SIGNIFICANT_DIGITS` significant
  digits (half even). A value converted there and back again equals the original within a
  relative error of ``10 ** -(SIGNIFICANT_DIGITS - 1)``.

Packaging units (``box12 = 12 piece``) are business data; the caller passes them in as a
mapping ``name -> (base_unit, factor)`` (see :mod:`carebiz.units.services`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Any

import pint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from carebiz.errors import ValidationFailed

#: significant digits of every converted value
SIGNIFICANT_DIGITS = 12
#: working precision of the Decimal arithmetic (well above the digits kept)
WORKING_PRECISION = 40
#: what a unit expression may look like before pint sees it
UNIT_RE = re.compile(r"^[A-Za-z_µ°][A-Za-z0-9_µ°/*^ .·]{0,39}$")
#: how deep a packaging unit may be defined on other packaging units
MAX_PACKAGING_DEPTH = 8


@dataclass(frozen=True)
class Category:
    name: str
    label: Any
    reference: str
    #: the units listed for the category (others of its dimensionality also convert)
    units: tuple[str, ...]
    #: pint dimensionality that places a unit here; None: only the explicit ``units``
    dimensionality: str | None = None


CATEGORIES: dict[str, Category] = {c.name: c for c in (
    Category("count", _l("count"), "piece", ("piece", "count", "ea", "pair", "dozen")),
    Category("length", _l("length"), "m", ("mm", "cm", "m", "km", "in", "ft", "yd", "mi"),
             "[length]"),
    Category("area", _l("area"), "m**2", ("cm**2", "m**2", "ha", "km**2", "ft**2"),
             "[length] ** 2"),
    Category("volume", _l("volume"), "L", ("mL", "L", "m**3", "gal", "imperial_gallon",
                                             "quart", "fluid_ounce"), "[length] ** 3"),
    Category("mass", _l("mass"), "kg", ("g", "kg", "t", "oz", "lb"), "[mass]"),
    Category("time", _l("time"), "h", ("s", "min", "h", "day", "week"), "[time]"),
    Category("speed", _l("speed"), "km/h", ("m/s", "km/h", "mph", "knot"),
             "[length] / [time]"),
    Category("pressure", _l("pressure"), "kPa", ("Pa", "kPa", "bar", "psi"),
             "[mass] / [length] / [time] ** 2"),
    Category("power", _l("power"), "kW", ("W", "kW", "hp"),
             "[mass] * [length] ** 2 / [time] ** 3"),
    Category("fuel_economy", _l("fuel economy"), "L/100km", ("L/100km", "km/L", "mpg",
                                                             "mpg_imp")),
)}

#: units of the count category, as pint names them
COUNT_UNITS = frozenset({"piece", "count", "pair", "dozen"})


@functools.cache
def ureg() -> pint.UnitRegistry:
    """The process's registry, built once."""
    registry = pint.UnitRegistry(non_int_type=Decimal, autoconvert_offset_to_baseunit=False)
    registry.define("piece = count = ea")
    registry.define("pair = 2 * piece")
    registry.define("dozen = 12 * piece")
    return registry


@functools.cache
def _dimensionalities() -> dict[Any, str]:
    reg = ureg()
    return {reg.get_dimensionality(c.dimensionality): c.name
            for c in CATEGORIES.values() if c.dimensionality}


@functools.cache
def _fuel_units() -> dict[str, tuple[bool, Decimal]]:
    """Fuel unit -> (inverse?, a): ``km/L = value * a`` or, inverse, ``km/L = a / value``."""
    reg = ureg()
    mpg = reg.Quantity(Decimal(1), "mile / gallon").to("km / L").magnitude
    mpg_imp = reg.Quantity(Decimal(1), "mile / imperial_gallon").to("km / L").magnitude
    table = {"km/L": (False, Decimal(1)), "mpg": (False, Decimal(mpg)),
             "mpg_us": (False, Decimal(mpg)), "mpg_imp": (False, Decimal(mpg_imp)),
             "L/100km": (True, Decimal(100))}
    for name in list(table):  # spelling variants: km/l, l/100 km, L/100 km
        table.setdefault(name.replace("L", "l"), table[name])
        table.setdefault(name.replace("100km", "100 km"), table[name])
        table.setdefault(name.replace("L", "l").replace("100km", "100 km"), table[name])
    return table


@dataclass(frozen=True)
class Resolved:
    """A unit reduced to ``factor × <pint unit>`` (linear) or a fuel-economy unit."""

    name: str
    category: str
    #: pint unit expression of the linear base ("" for fuel economy)
    base: str = ""
    factor: Decimal = Decimal(1)
    #: fuel economy: (inverse?, a) as in :func:`_fuel_units`
    fuel: tuple[bool, Decimal] | None = None


def known_units(packaging: Mapping[str, Any] | None = None) -> list[str]:
    names = [u for c in CATEGORIES.values() for u in c.units]
    return names + sorted(packaging or ())


def unknown_unit(unit: str, field: str, packaging: Mapping[str, Any] | None = None,
                 ) -> ValidationFailed:
    message = _("Unknown unit '%(unit)s'. Known units: %(known)s; other units of the "
                "categories %(categories)s work too.", unit=unit,
                known=", ".join(known_units(packaging)),
                categories=", ".join(str(c.label) for c in CATEGORIES.values()))
    return ValidationFailed(message, {field: message}, {"known_units": known_units(packaging)})


def category_of_pint(unit: str) -> str | None:
    """The category of a pint unit expression, or None when it has none / does not parse."""
    if not isinstance(unit, str) or not UNIT_RE.match(unit.strip()):
        return None
    reg = ureg()
    try:
        parsed = reg.parse_units(unit.strip())
    except Exception:  # pint raises many kinds on odd input; all mean "not a unit"
        return None
    dims = parsed.dimensionality
    if not dims:
        names = set(parsed._units)
        return "count" if names and names <= COUNT_UNITS else None
    return _dimensionalities().get(dims)


def is_pint_unit(name: str) -> bool:
    """Whether pint knows ``name`` at all (any category): packaging names must not clash."""
    try:
        ureg().parse_units(name)
    except Exception:
        return False
    return True


def resolve(unit: str, field: str = "unit",
            packaging: Mapping[str, tuple[str, Decimal]] | None = None) -> Resolved:
    """Reduce ``unit`` to its category and linear base; raise 422 on ``field`` if unknown.

    ``packaging`` maps a packaging unit's name to ``(base_unit, factor)``."""
    packaging = packaging or {}
    name = unit.strip() if isinstance(unit, str) else ""
    factor = Decimal(1)
    seen = 0
    while name in packaging:
        base, step = packaging[name]
        factor *= Decimal(step)
        name = base
        seen += 1
        if seen > MAX_PACKAGING_DEPTH:
            raise unknown_unit(unit, field, packaging)
    fuel = _fuel_units().get(name)
    if fuel is not None:
        if seen:  # a packaging unit of a fuel economy makes no sense
            raise unknown_unit(unit, field, packaging)
        return Resolved(unit, "fuel_economy", fuel=fuel)
    category = category_of_pint(name)
    if category is None:
        raise unknown_unit(unit, field, packaging)
    return Resolved(unit, category, base=name, factor=factor)


def cannot_convert(source: Resolved, target: Resolved) -> ValidationFailed:
    labels = (str(CATEGORIES[source.category].label), str(CATEGORIES[target.category].label))
    message = _("Cannot convert %(source)s to %(target)s.", source=labels[0], target=labels[1])
    return ValidationFailed(message, {"to": message},
                            {"from_category": source.category, "to_category": target.category})


def round_significant(value: Decimal, digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """``value`` rounded (half even) to ``digits`` significant digits, trailing zeros dropped
    but never in exponent form for the caller's ``format(x, "f")``."""
    if not value.is_finite():
        raise ValueError("not a finite number")
    if value.is_zero():
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = WORKING_PRECISION
        quantum = Decimal(1).scaleb(value.adjusted() - digits + 1)
        rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
        # rounding may carry into a new digit (9.99… -> 10.0…): round once more
        if rounded.adjusted() != value.adjusted():
            rounded = rounded.quantize(quantum * 10, rounding=ROUND_HALF_EVEN)
        return rounded.normalize()


def to_text(value: Decimal) -> str:
    """A Decimal as plain text: ``"6.21371"``, ``"1200"``, never ``"1.2E+3"``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def pint_factor(source: str, target: str) -> Decimal:
    """``1 source = factor target`` for two pint units of one dimensionality, exact."""
    reg = ureg()
    magnitude = reg.Quantity(Decimal(1), source).to(target).magnitude
    return Decimal(magnitude)


def ratio(source: Resolved, target: Resolved) -> Decimal:
    """``1 source = ratio target`` for two linear units of one category (not rounded)."""
    if source.fuel is not None or target.fuel is not None:
        raise cannot_convert(source, target)
    if source.category != target.category:
        raise cannot_convert(source, target)
    with localcontext() as ctx:
        ctx.prec = WORKING_PRECISION
        return source.factor * pint_factor(source.base, target.base) / target.factor


def convert_exact(value: Decimal, source: Resolved, target: Resolved) -> Decimal:
    """``value`` in ``source`` expressed in ``target``, unrounded (working precision)."""
    if source.category != target.category:
        raise cannot_convert(source, target)
    with localcontext() as ctx:
        ctx.prec = WORKING_PRECISION
        if source.fuel is None:
            return value * ratio(source, target)
        (src_inverse, a), (dst_inverse, b) = source.fuel, target.fuel  # type: ignore[misc]
        if (src_inverse or dst_inverse) and value.is_zero():
            message = _("A fuel economy of zero cannot be converted to %(unit)s.",
                        unit=target.name)
            raise ValidationFailed(message, {"value": message})
        km_per_l = a / value if src_inverse else value * a
        if km_per_l.is_zero():
            message = _("A fuel economy of zero cannot be converted to %(unit)s.",
                        unit=target.name)
            raise ValidationFailed(message, {"value": message})
        return b / km_per_l if dst_inverse else km_per_l / b


def parse_decimal(value: Any, field: str = "value") -> Decimal:
    """A finite Decimal from a string, int or Decimal (floats go through their repr)."""
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        number = None
    if number is None or not number.is_finite():
        message = _("Not a number.")
        raise ValidationFailed(message, {field: message})
    return number


def convert(value: Any, from_unit: str, to_unit: str,
            packaging: Mapping[str, tuple[str, Decimal]] | None = None,
            digits: int = SIGNIFICANT_DIGITS) -> Decimal:
    """Convert ``value`` (Decimal, int or numeric string) from one unit to another, rounded
    to ``digits`` significant digits. Errors are 422s naming ``value``, ``from`` or ``to``."""
    number = parse_decimal(value)
    source = resolve(from_unit, "from", packaging)
    target = resolve(to_unit, "to", packaging)
    return round_significant(convert_exact(number, source, target), digits)


def categories(packaging: Mapping[str, tuple[str, Decimal]] | None = None,
               ) -> list[dict[str, Any]]:
    """The categories with their reference unit, label and listed units (packaging units
    appear under their base unit's category)."""
    extra: dict[str, list[str]] = {}
    for name in sorted(packaging or ()):
        try:
            extra.setdefault(resolve(name, packaging=packaging).category, []).append(name)
        except ValidationFailed:
            continue
    return [{"name": c.name, "label": str(c.label), "reference": c.reference,
             "units": list(c.units) + extra.get(c.name, [])} for c in CATEGORIES.values()]
