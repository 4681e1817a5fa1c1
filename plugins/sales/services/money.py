"""Money input of sales: amounts are ``Decimal`` (never floats), rounded to their currency's
minor unit through the core currency service, and validated with the field they came in."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from carebiz.currency.codes import check_code
from carebiz.currency.money import quantize, to_decimal
from carebiz.errors import ValidationFailed


def currency_code(value: Any, field: str = "currency") -> str:
    """An ISO 4217 code the core knows (``usd`` reads ``USD``), else a 422 naming ``field``."""
    return check_code(str(value or ""), field)


def amount(value: Any, currency: str, field: str = "amount", *,
           positive: bool = False) -> Decimal:
    """A non-negative amount (strictly positive with ``positive``) rounded to ``currency``."""
    number = to_decimal(value, field)
    if number < 0 or (positive and number == 0):
        message = (_("Give an amount above zero.") if positive
                   else _("Give an amount of zero or more."))
        raise ValidationFailed(message, {field: message})
    if number >= Decimal("1e12"):
        message = _("This amount is too large.")
        raise ValidationFailed(message, {field: message})
    return quantize(number, currency)
