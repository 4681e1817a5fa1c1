"""Locale-aware display of money: ¥1,234.50 and US$1,234.50 (zh_CN), 1.234,50 € (de)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_currency

from carebiz.currency.codes import check_code
from carebiz.currency.money import Money, to_decimal


def _locale(locale: Any) -> Any:
    if locale:
        return locale
    try:
        from flask_babel import get_locale

        return get_locale() or "en"
    except Exception:  # outside an app context
        return "en"


def format_money(amount: Decimal | Money | Any, currency: str | None = None,
                 locale: Any = None) -> str:
    """``amount`` in ``currency`` (or a :class:`Money`) as the reader's locale writes it,
    with the currency's own number of decimals."""
    if isinstance(amount, Money):
        currency = currency or amount.currency
        amount = amount.amount
    value = to_decimal(amount)
    return format_currency(value, check_code(currency), locale=_locale(locale))
