"""Helpers the writers share: display width (CJK counts double), locales and money text."""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision, get_currency_symbol

from carebiz.export.table import MONEY, NUMBER, Column, text_of
from carebiz.text import printable

NUMERIC = (NUMBER, MONEY)


def char_width(ch: str) -> int:
    """Terminal columns of one character: 2 for wide/fullwidth (CJK), 0 for combining marks."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    return sum(char_width(ch) for ch in text)


@lru_cache(maxsize=32)
def babel_locale(name: str | None) -> Locale:
    try:
        return Locale.parse((name or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse("en")


def html_lang(name: str | None) -> str:
    """``zh_CN`` -> ``zh-CN`` (a bare ``zh`` becomes ``zh-CN``: other CJK tags change glyphs)."""
    loc = babel_locale(name)
    if loc.language == "zh":
        return "zh-TW" if loc.territory in ("TW", "HK", "MO") or loc.script == "Hant" else "zh-CN"
    return f"{loc.language}-{loc.territory}" if loc.territory else loc.language


@lru_cache(maxsize=256)
def currency_symbol(code: str, locale: str | None) -> str:
    try:
        return get_currency_symbol(code, locale=babel_locale(locale))
    except Exception:  # unknown code: show the code itself
        return code


@lru_cache(maxsize=256)
def currency_digits(code: str) -> int:
    try:
        return get_currency_precision(code)
    except Exception:
        return 2


def row_currency(column: Column, row: list[Any], index: dict[str, int]) -> str | None:
    """The currency of a money cell: fixed on the column or read from another column."""
    if column.currency_key and column.currency_key in index:
        code = row[index[column.currency_key]]
        if code:
            return str(code)
    return column.currency


def cell_text(value: Any, column: Column, currency: str | None, locale: str | None) -> str:
    """A value as text for the document formats: money with its currency symbol. Characters
    XML cannot hold (control characters stored before they were refused) are dropped, so
    one such row cannot make a Word or PDF export fail."""
    if value is None:
        return ""
    if column.type == MONEY and currency and isinstance(value, (int, float, Decimal)) \
            and not isinstance(value, bool):
        try:
            return format_currency(value, currency, locale=babel_locale(locale))
        except Exception:
            return f"{text_of(value)} {currency}"
    return printable(text_of(value))


def column_index(columns: Any) -> dict[str, int]:
    return {c.key: i for i, c in enumerate(columns)}


def document_rows(table: Any) -> Any:
    """Each row as ``[(text, numeric?), …]`` for html, docx, txt and pdf."""
    columns = list(table.columns)
    index = column_index(columns)
    locale = table.locale
    numeric = [c.type in NUMERIC for c in columns]
    for values in table.values():
        yield [(cell_text(v, c, row_currency(c, values, index) if c.type == MONEY else None,
                          locale), numeric[i])
               for i, (v, c) in enumerate(zip(values, columns, strict=False))]
