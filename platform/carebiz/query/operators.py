"""The operators each field type allows, how their values are checked, the SQL they become, and
relative date ranges (today, this week, last 30 days …) in the business timezone.

Every operator here is total over NULLs and matches the reference semantics that the property
tests evaluate in Python:

- ``eq``/``lt``/``le``/``gt``/``ge``/``between``/``in``/``contains``/``starts_with`` never select
  an empty (NULL) value;
- ``ne`` selects every row whose value differs, *including* empty ones ("not red" keeps the
  cars without a colour);
- ``empty`` is NULL (or ``''`` for text), ``not_empty`` its exact complement;
- ``contains``/``starts_with`` ignore letter case and take ``%``, ``_`` and ``/`` literally.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, or_

TEXT, NUMBER, MONEY, DATE, DATETIME, BOOL, CHOICE = (
    "text", "number", "money", "date", "datetime", "bool", "choice")

#: relative date operators without a value, and ``last_days`` that takes a number of days
RELATIVE = ("today", "yesterday", "this_week", "last_week", "this_month", "last_month",
            "this_quarter", "this_year", "last_7_days", "last_30_days")
LAST_DAYS = "last_days"

ORDERED = ("eq", "ne", "lt", "le", "gt", "ge", "between")
TYPE_OPERATORS: dict[str, tuple[str, ...]] = {
    TEXT: ("eq", "ne", "in", "contains", "starts_with", "empty", "not_empty"),
    NUMBER: (*ORDERED, "in", "empty", "not_empty"),
    MONEY: (*ORDERED, "in", "empty", "not_empty"),
    DATE: (*ORDERED, "empty", "not_empty", *RELATIVE, LAST_DAYS),
    DATETIME: (*ORDERED, "empty", "not_empty", *RELATIVE, LAST_DAYS),
    BOOL: ("eq", "ne", "empty", "not_empty"),
    CHOICE: ("eq", "ne", "in", "empty", "not_empty"),
}
NO_VALUE = frozenset(("empty", "not_empty", *RELATIVE))
MAX_IN = 1000
MAX_TEXT = 500
MAX_LAST_DAYS = 3660


class BadValue(ValueError):
    """A condition's value does not fit its field or operator (message in English; callers
    translate the fixed parts)."""


def operators_for(field: Any) -> tuple[str, ...]:
    """The operators ``field`` allows: its own list (a subset of its type's) or its type's."""
    allowed = TYPE_OPERATORS.get(field.type, ())
    if field.operators:
        return tuple(op for op in field.operators if op in allowed)
    return allowed


# --- values -------------------------------------------------------------------------------


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue("expected a number")
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        raise BadValue("expected a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:  # what databases compare
        raise BadValue("expected a number of at most 18 digits")
    return value


def _money(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise BadValue("expected an amount")
    try:
        amount = Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise BadValue("expected an amount such as 1999.50")
    return amount


def _date(value: Any) -> dt.date:
    if not isinstance(value, str):
        raise BadValue("expected a date as YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadValue("expected a date as YYYY-MM-DD") from None


def _datetime(value: Any, tz: ZoneInfo) -> dt.datetime:
    """An ISO date-time; without an offset it is read in the business timezone."""
    if not isinstance(value, str):
        raise BadValue("expected a date-time as YYYY-MM-DDTHH:MM[:SS][+08:00]")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise BadValue("expected a date-time as YYYY-MM-DDTHH:MM[:SS][+08:00]") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(dt.UTC)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise BadValue("expected text")
    if len(value) > MAX_TEXT:
        raise BadValue(f"text longer than {MAX_TEXT} characters")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue("expected true or false")
    return value


def scalar(field: Any, value: Any, tz: ZoneInfo) -> Any:
    """``value`` checked and converted for ``field``."""
    if value is None:
        raise BadValue("a value is required (use empty / not_empty for missing values)")
    kind = field.type
    if kind == NUMBER:
        return _number(value)
    if kind == MONEY:
        return _money(value)
    if kind == DATE:
        return _date(value)
    if kind == DATETIME:
        return _datetime(value, tz)
    if kind == BOOL:
        return _bool(value)
    text = _text(value)
    if kind == CHOICE and field.choices and text not in {key for key, _label in field.choices}:
        raise BadValue("not one of: " + ", ".join(key for key, _label in field.choices))
    return text


def check_value(field: Any, op: str, value: Any, tz: ZoneInfo) -> Any:
    """The value of a condition, converted; raises :class:`BadValue`."""
    if op in NO_VALUE:
        if value is not None:
            raise BadValue(f"operator {op} takes no value")
        return None
    if op == LAST_DAYS:
        if isinstance(value, bool) or not isinstance(value, int) or not (
                1 <= value <= MAX_LAST_DAYS):
            raise BadValue(f"expected a whole number of days from 1 to {MAX_LAST_DAYS}")
        return value
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise BadValue("expected a list of two values [from, to]")
        return [scalar(field, item, tz) for item in value]
    if op == "in":
        if not isinstance(value, list) or not value:
            raise BadValue("expected a non-empty list of values")
        if len(value) > MAX_IN:
            raise BadValue(f"at most {MAX_IN} values")
        return [scalar(field, item, tz) for item in value]
    converted = scalar(field, value, tz)
    if op in ("contains", "starts_with") and converted == "":
        raise BadValue("expected some text (use empty / not_empty for missing values)")
    return converted


# --- relative dates -------------------------------------------------------------------------


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def relative_range(op: str, value: Any, today: dt.date) -> tuple[dt.date, dt.date]:
    """The days ``op`` covers as ``[start, end)`` around ``today`` (the business date)."""
    one = dt.timedelta(days=1)
    if op == "today":
        return today, today + one
    if op == "yesterday":
        return today - one, today
    if op in ("this_week", "last_week"):
        monday = today - dt.timedelta(days=today.weekday())
        if op == "last_week":
            monday -= dt.timedelta(days=7)
        return monday, monday + dt.timedelta(days=7)
    if op == "this_month":
        return _month_start(today), _month_start(today, -1)
    if op == "last_month":
        return _month_start(today, 1), _month_start(today)
    if op == "this_quarter":
        first = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        return first, _month_start(first, -3)
    if op == "this_year":
        return dt.date(today.year, 1, 1), dt.date(today.year + 1, 1, 1)
    days = {"last_7_days": 7, "last_30_days": 30}.get(op, value)
    return today - dt.timedelta(days=days - 1), today + one


def _bounds(field: Any, op: str, value: Any, today: dt.date, tz: ZoneInfo) -> tuple[Any, Any]:
    start, end = relative_range(op, value, today)
    if field.type == DATETIME:
        def moment(day: dt.date) -> dt.datetime:
            return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)

        return moment(start), moment(end)
    return start, end


# --- SQL ----------------------------------------------------------------------------------


def _text_ops() -> dict[str, Callable[[Any, Any], Any]]:
    return {
        "contains": lambda col, v: col.icontains(v, autoescape=True),
        "starts_with": lambda col, v: col.istartswith(v, autoescape=True),
    }


def build(field: Any, column: Any, op: str, value: Any, today: dt.date, tz: ZoneInfo) -> Any:
    """The SQL condition for ``column op value`` (values are bound parameters)."""
    text = field.type in (TEXT, CHOICE)
    if op == "empty":
        return or_(column.is_(None), column == "") if text else column.is_(None)
    if op == "not_empty":
        return and_(column.is_not(None), column != "") if text else column.is_not(None)
    if op == "eq":
        return column == value
    if op == "ne":
        return or_(column.is_(None), column != value)
    if op == "lt":
        return column < value
    if op == "le":
        return column <= value
    if op == "gt":
        return column > value
    if op == "ge":
        return column >= value
    if op == "between":
        low, high = value
        return and_(column >= low, column <= high)
    if op == "in":
        return column.in_(value) if value else false()
    if op in _text_ops():
        return _text_ops()[op](column, value)
    if op in RELATIVE or op == LAST_DAYS:
        start, end = _bounds(field, op, value, today, tz)
        return and_(column >= start, column < end)
    raise BadValue(f"unknown operator {op}")  # pragma: no cover - validated before
