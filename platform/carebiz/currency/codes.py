"""ISO 4217 currency codes and their minor units, from Babel's CLDR data."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_name, get_currency_precision, list_currencies
from flask_babel import gettext as _

from carebiz.errors import ValidationFailed


@lru_cache(maxsize=1)
def all_codes() -> frozenset[str]:
    """Every currency code Babel knows (current ISO 4217 codes and historic ones)."""
    return frozenset(list_currencies())


def is_code(code: Any) -> bool:
    return isinstance(code, str) and code.strip().upper() in all_codes()


def check_code(code: Any, field: str = "currency") -> str:
    """``code`` normalised to upper case, or :class:`ValidationFailed` naming ``field``."""
    if not is_code(code):
        message = _("'%(code)s' is not an ISO 4217 currency code (e.g. CNY, USD, JPY).",
                    code=str(code if code is not None else "")[:20])
        raise ValidationFailed(message, errors={field: message})
    return code.strip().upper()


def minor_unit(code: str) -> int:
    """Decimal places of the currency's minor unit: JPY 0, CNY 2, KWD 3."""
    return int(get_currency_precision(check_code(code)))


def currency_list(locale: Any = None) -> list[dict[str, Any]]:
    """``{"code", "name", "minor_unit"}`` of every currency, sorted by code."""
    return [{"code": c, "name": get_currency_name(c, locale=locale or "en"),
             "minor_unit": int(get_currency_precision(c))} for c in sorted(all_codes())]
