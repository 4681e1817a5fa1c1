"""How query values read to a person: choice codes as their translated label, branch ids as
the branch's name, money with its currency and minor units, dates and times in the business
time zone and the reader's language (one date format everywhere), date groups as periods.

The query API keeps the codes and adds these labels beside them; pages, charts and exports
show only the labels. What a value means is declared once, on the source's
:class:`~carebiz.contributions.QueryField` (``type``, ``choices``, ``relation``,
``currency``), so a plugin's source reads the same way as the platform's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.contributions import BASE_CURRENCY, BRANCH_RELATION
from carebiz.currency.format import format_money
from carebiz.errors import ValidationFailed
from carebiz.i18n import fold, in_every_language
from carebiz.query import operators as ops
from carebiz.toolkit.business_time import business_tz

#: the one way a date (and a date-time's day) is written on query pages and exports
DATE_FORMAT = "medium"
DATETIME_FORMAT = "medium"  # how date and time are joined (the time is to the minute)
BUCKETS = ("day", "week", "month", "quarter", "year")


def locale_name() -> str:
    try:
        return str(get_locale() or "en")
    except Exception:  # noqa: BLE001 - outside a request: English
        return "en"


def branch_names(session: Session) -> dict[int, str]:
    """Every branch's name by id (branch names are not private; records in them are)."""
    from carebiz.models.branch import Branch

    return {row[0]: row[1] for row in session.execute(select(Branch.id, Branch.name))}


def branch_choices(session: Session, user: Any) -> list[tuple[int, str, str]]:
    """``(id, name, code)`` of the branches ``user`` may see, by name: what a branch filter
    offers."""
    from carebiz.models.branch import Branch

    stmt = select(Branch.id, Branch.name, Branch.code).order_by(Branch.name, Branch.id)
    if not (getattr(user, "all_branches", False) or getattr(user, "is_superuser", False)):
        stmt = stmt.where(Branch.id.in_(sorted(getattr(user, "branch_ids", ()) or ())))
    return [tuple(row) for row in session.execute(stmt).all()]  # type: ignore[misc]


def choice_code(choices: Any, text: str) -> str | None:
    """The code of a choice typed or picked: the code itself, or its label in any shipped
    language and any case (``Champion``, ``核心客户``, ``champion`` all mean ``champion``,
    whichever language the reader uses); None when it is none of them. Codes win over
    labels, so a label that happens to spell another choice's code cannot hide it."""
    pairs = [(str(key), label) for key, label in choices]
    if any(key == text for key, _label in pairs):
        return text
    folded = fold(text)
    for key, _label in pairs:
        if fold(key) == folded:
            return key
    for (key, _label), spelled in zip(pairs, in_every_language([lb for _k, lb in pairs]),
                                      strict=True):
        if folded in spelled:
            return key
    return None


#: what a yes/no value may be typed as, beside "yes"/"no" in every shipped language
_YES, _NO = ("1", "true", "y", "on"), ("0", "false", "n", "off")


def yes_no(text: str) -> bool | None:
    """A yes/no typed in either language (``yes``, ``是``, ``true``, ``no``, ``否`` …); None
    when it is neither."""
    folded = fold(text)
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    found = choice_code((("yes", _l("yes")), ("no", _l("no"))), text)
    return None if found is None else found == "yes"


def base_currency(session: Session) -> str:
    from carebiz.currency.rates import base_currency as base

    return base(session)


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class Labeller:
    """Labels and display text of one source's values, for one reader (locale, time zone)
    and one answer (branch names and the base currency are read once)."""

    def __init__(self, session: Session | None, source: Any, locale: str | None = None,
                 tz: Any = None) -> None:
        self.source = source
        self.fields = {f.name: f for f in source.fields}
        self.locale = locale or locale_name()
        self.tz = tz or business_tz()
        self._session = session
        self._branches: dict[int, str] | None = None
        self._base: str | None = None
        # translated once per answer: a page of 50 rows × 10 fields would otherwise look
        # up the catalog for every cell
        self._choices: dict[str, dict[Any, str]] = {}
        self._yes_no: tuple[str, str] | None = None
        self._locale = Locale.parse(self.locale)

    # -- lookups --------------------------------------------------------------------------

    @property
    def branches(self) -> dict[int, str]:
        if self._branches is None:
            self._branches = branch_names(self._session) if self._session is not None else {}
        return self._branches

    @property
    def base(self) -> str:
        if self._base is None:
            self._base = base_currency(self._session) if self._session is not None else "CNY"
        return self._base

    def currency_of(self, qfield: Any, row: dict[str, Any] | None = None) -> str | None:
        """The ISO code of a money field's amounts (in ``row``, for a per-row currency)."""
        if qfield is None or qfield.type != ops.MONEY:
            return None
        code = qfield.currency or BASE_CURRENCY
        if code == BASE_CURRENCY:
            return self.base
        if code in self.fields:
            found = (row or {}).get(code)
            return str(found) if found else self.base
        return code

    # -- labels (the API adds these beside the codes) ---------------------------------------

    def label(self, qfield: Any, value: Any) -> str | None:
        """The label of a choice, relation or boolean value; None for other fields (their
        value reads as it is) and for empty values."""
        if qfield is None or value is None or value == "":
            return None
        if qfield.relation == BRANCH_RELATION:
            try:
                return self.branches.get(int(value), str(value))
            except (TypeError, ValueError):
                return str(value)
        if qfield.type == ops.BOOL:
            if self._yes_no is None:
                self._yes_no = (str(_("yes")), str(_("no")))
            return self._yes_no[0] if value else self._yes_no[1]
        if qfield.choices:
            found = self._choices.get(qfield.name)
            if found is None:
                found = self._choices[qfield.name] = {k: str(v) for k, v in qfield.choices}
            return found.get(value, str(value))
        return None

    def labelled(self, qfield: Any) -> bool:
        return qfield is not None and bool(qfield.relation or qfield.choices
                                           or qfield.type == ops.BOOL)

    def bucket_label(self, key: str, by: str) -> str:
        """A date group (``2026-11``, ``2026-Q4``, ``2026-11-16``) as a period."""
        if not key:
            return ""
        try:
            if by == "year":
                return str(key)
            if by == "quarter":
                year, quarter = key.split("-Q")
                day = dt.date(int(year), int(quarter) * 3 - 2, 1)
                return format_skeleton("yQQQ", day, locale=self.locale)
            if by == "month":
                year, month = key.split("-")[:2]
                return format_skeleton("yMMM", dt.date(int(year), int(month), 1),
                                       locale=self.locale)
            day = dt.date.fromisoformat(str(key)[:10])
        except (TypeError, ValueError):
            return str(key)
        text = format_date(day, DATE_FORMAT, locale=self.locale)
        return str(_("week of %(date)s", date=text)) if by == "week" else text

    # -- display text (pages, charts, exports) -----------------------------------------------

    def money(self, amount: Any, currency: str | None) -> str:
        value = _decimal(amount)
        if value is None:
            return "" if amount is None else str(amount)
        if not currency:
            return format_decimal(value, locale=self.locale)
        try:
            return format_money(value, currency, locale=self.locale)
        except (ValueError, ValidationFailed):  # a row field holding no currency code
            return format_decimal(value, locale=self.locale)

    def date(self, value: Any) -> str:
        if isinstance(value, str):
            try:
                value = (dt.datetime.fromisoformat(value) if "T" in value or " " in value
                         else dt.date.fromisoformat(value))
            except ValueError:
                return value
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return self.moment(value)
        if isinstance(value, dt.date):
            return format_date(value, DATE_FORMAT, locale=self.locale)
        return str(value)

    def moment(self, value: dt.datetime) -> str:
        """A date-time in the business time zone: the page's one date format and the time
        to the minute, joined the locale's way ("Dec 2, 2026, 12:33 PM", "2026年12月2日
        12:33")."""
        local = value.astimezone(self.tz)
        locale = self._locale
        pattern = str(locale.datetime_formats.get(DATETIME_FORMAT, "{1} {0}"))
        return pattern.replace("'", "").format(
            format_time(local, "short", tzinfo=self.tz, locale=locale),
            format_date(local.date(), DATE_FORMAT, locale=locale))

    def display(self, qfield: Any, value: Any, row: dict[str, Any] | None = None) -> str:
        """``value`` of ``qfield`` as a person reads it ('' for an empty value)."""
        if value is None or value == "":
            return ""
        if qfield is None:
            return str(value)
        label = self.label(qfield, value)
        if label is not None:
            return label
        if qfield.type == ops.MONEY:
            return self.money(value, self.currency_of(qfield, row))
        if qfield.type in (ops.DATE, ops.DATETIME):
            return self.date(value)
        if qfield.type == ops.NUMBER and not isinstance(value, bool):
            number = _decimal(value)
            if number is not None and qfield.name != "id" and not qfield.name.endswith(
                    ("_id", "year")):
                return format_decimal(number, locale=self.locale)
        return str(value)

    def row_labels(self, row: dict[str, Any], keys: dict[str, Any]) -> dict[str, str]:
        """``{key: label}`` for the labelled values of ``row`` (``keys`` maps a row key to
        its field, or to ``("bucket", by)`` for a date group)."""
        found: dict[str, str] = {}
        for key, target in keys.items():
            value = row.get(key)
            if value is None or value == "":
                continue
            if isinstance(target, tuple):
                found[key] = self.bucket_label(str(value), target[1])
                continue
            label = self.label(target, value)
            if label is not None:
                found[key] = label
        return found


def group_keys(source: Any, group_by: list[str]) -> dict[str, Any]:
    """What each group key of an aggregate answer is: its field, or ``("bucket", by)`` for
    ``created_at_month``."""
    fields = {f.name: f for f in source.fields}
    found: dict[str, Any] = {}
    for key in group_by:
        if key in fields:
            found[key] = fields[key]
            continue
        name, _sep, by = key.rpartition("_")
        if name in fields and by in BUCKETS:
            found[key] = ("bucket", by)
    return found
