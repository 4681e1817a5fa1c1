"""Exchange-rate services: entering and importing dated rates, finding the rate in force on a
date, and converting money.

A rate says one unit of ``base`` costs ``rate`` units of ``quote`` from ``valid_from`` until
the next rate of that pair. A pair answers in either direction (the inverse is ``1/rate``).
When no stored rate answers, plugins are asked through the ``exchange_rates`` hook; when the
pair itself is unknown, the cross rate through the company's base currency
(``core.base_currency``) is used. A missing rate is a :class:`MissingRate` error naming the
pair and the date, never a silent 1.0.

Converted amounts are rounded half-up to the target currency's minor unit (see
:data:`carebiz.currency.money.ROUNDING`: 四舍五入 as Chinese banks and invoices do).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal, localcontext
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from carebiz.currency.codes import check_code
from carebiz.currency.models import ExchangeRate
from carebiz.currency.money import ROUNDING, Money, quantize, to_decimal
from carebiz.currency.signals import rate_added
from carebiz.errors import Conflict, ServiceError, ValidationFailed
from carebiz.events import Audit, current_actor, emit
from carebiz.i18n import N_

#: what the ``rate`` column holds: Numeric(24, 10)
RATE_PLACES = 10
MAX_RATE = Decimal(10) ** 14
COLUMNS = ("base", "quote", "rate", "valid_from")
MAX_IMPORT_ROWS = 50_000
#: precision of rate arithmetic (inverse and cross rates) before the final rounding
PRECISION = 40


class MissingRate(ValidationFailed):
    """No rate of a pair is in force on a date (stored, from a plugin, or crossed)."""

    code = "missing_rate"

    def __init__(self, base: str, quote: str, on_date: dt.date):
        message = _("No exchange rate from %(base)s to %(quote)s on %(date)s. Enter one "
                    "valid from that date or earlier.", base=base, quote=quote,
                    date=on_date.isoformat())
        super().__init__(message, errors={"rate": message},
                         details={"base": base, "quote": quote, "date": on_date.isoformat()})
        self.base, self.quote, self.on_date = base, quote, on_date


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors={field: message})


def parse_rate(raw: Any, field: str = "rate") -> Decimal:
    """A positive rate with at most 10 decimals, from a string or Decimal (never a float)."""
    rate = to_decimal(raw, field)
    if rate <= 0:
        raise _fail(field, _("A rate must be greater than zero."))
    if rate >= MAX_RATE:
        raise _fail(field, _("This rate is too large."))
    if rate.as_tuple().exponent < -RATE_PLACES and rate != rate.quantize(
            Decimal(1).scaleb(-RATE_PLACES)):
        raise _fail(field, _("A rate may have at most %(n)s decimal places.", n=RATE_PLACES))
    return rate


def parse_date(raw: Any, field: str = "valid_from") -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise _fail(field, _("'%(value)s' is not a date (YYYY-MM-DD).",
                             value=str(raw)[:40])) from None


def _pair(base: Any, quote: Any) -> tuple[str, str]:
    base, quote = check_code(base, "base"), check_code(quote, "quote")
    if base == quote:
        raise _fail("quote", _("The quote currency must differ from the base currency."))
    return base, quote


def rate_dict(rate: ExchangeRate) -> dict[str, Any]:
    return {"base": rate.base, "quote": rate.quote, "rate": format(rate.rate, "f"),
            "valid_from": rate.valid_from.isoformat(), "source": rate.source}


def add_rate(session: Session, base: Any, quote: Any, rate: Any, valid_from: Any,
             source: str = "manual") -> ExchangeRate:
    """Store a rate (validated, audited). A rate of the same pair and date is a conflict."""
    base, quote = _pair(base, quote)
    value = parse_rate(rate)
    day = parse_date(valid_from)
    existing = session.scalar(select(ExchangeRate).where(
        ExchangeRate.base == base, ExchangeRate.quote == quote,
        ExchangeRate.valid_from == day))
    if existing is not None:
        message = _("A rate from %(base)s to %(quote)s valid from %(date)s exists already "
                    "(%(rate)s).", base=base, quote=quote, date=day.isoformat(),
                    rate=format(existing.rate, "f"))
        raise Conflict(message, errors={"valid_from": message})
    actor_id, _name = current_actor(session)
    row = ExchangeRate(base=base, quote=quote, rate=value, valid_from=day,
                       source=(source or "manual")[:40], created_by=actor_id)
    session.add(row)
    session.flush()
    after = rate_dict(row) | {"rate": format(value, "f")}
    emit(session, rate_added, audit=Audit(
        "exchange_rate", row.id,
        N_("Exchange rate %(base)s/%(quote)s = %(rate)s from %(date)s"), after=after,
        args={"base": base, "quote": quote, "rate": after["rate"], "date": day.isoformat()}),
        rate_id=row.id, base=base, quote=quote, rate=after["rate"],
        valid_from=day.isoformat(), source=row.source)
    return row


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _fail("file", _("The file is not UTF-8 or GB18030 text."))


def import_rates_csv(session: Session, data: bytes | str, dry_run: bool = True,
                     source: str = "import") -> dict[str, Any]:
    """Check and (unless ``dry_run``) store rates from CSV with the columns base, quote, rate,
    valid_from. Every bad row is reported (``row`` as a spreadsheet numbers it: the header is
    row 1); nothing is stored unless every row is valid. Does not commit."""
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise _fail("file", _("The file lacks the columns: %(columns)s (it needs base, quote, "
                              "rate, valid_from).", columns=", ".join(missing)))
    index = {c: header.index(c) for c in COLUMNS}
    errors: list[dict[str, Any]] = []
    good: list[tuple[int, str, str, Decimal, dt.date]] = []
    seen: dict[tuple[str, str, dt.date], int] = {}
    rows = 0
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        rows += 1
        if rows > MAX_IMPORT_ROWS:
            raise ServiceError(_("The file has more than %(n)s rows.", n=MAX_IMPORT_ROWS))
        raw = {c: (cells[i].strip() if i < len(cells) else "") for c, i in index.items()}
        row_errors: list[dict[str, Any]] = []
        parsed: dict[str, Any] = {}
        for column, check in (("base", lambda v: check_code(v, "base")),
                              ("quote", lambda v: check_code(v, "quote")),
                              ("rate", parse_rate), ("valid_from", parse_date)):
            try:
                parsed[column] = check(raw[column])
            except ValidationFailed as exc:
                row_errors.append({"row": number, "column": column, "reason": exc.message})
        if not row_errors:
            key = (parsed["base"], parsed["quote"], parsed["valid_from"])
            if parsed["base"] == parsed["quote"]:
                row_errors.append({"row": number, "column": "quote", "reason": _(
                    "The quote currency must differ from the base currency.")})
            elif key in seen:
                row_errors.append({"row": number, "column": "valid_from", "reason": _(
                    "Same pair and date as row %(row)s.", row=seen[key])})
            elif session.scalar(select(ExchangeRate.id).where(
                    ExchangeRate.base == key[0], ExchangeRate.quote == key[1],
                    ExchangeRate.valid_from == key[2])) is not None:
                row_errors.append({"row": number, "column": "valid_from", "reason": _(
                    "A rate of this pair valid from this date exists already.")})
            else:
                seen[key] = number
                good.append((number, *key[:2], parsed["rate"], key[2]))
        errors.extend(row_errors)
    valid = not errors and rows > 0
    if rows == 0:
        errors.append({"row": None, "column": "", "reason": _("The file has no rows.")})
    committed = False
    if valid and not dry_run:
        for _number, base, quote, rate, day in good:
            add_rate(session, base, quote, rate, day, source=source)
        committed = True
    return {"valid": valid, "rows": rows, "dry_run": dry_run, "committed": committed,
            "imported": len(good) if committed else 0, "errors": errors}


def _stored(session: Session, base: str, quote: str,
            on_date: dt.date) -> tuple[dt.date, Decimal, str] | None:
    """The newest stored rate of the pair in either direction; on a tie the direct one."""
    stmt = (select(ExchangeRate)
            .where(or_(and_(ExchangeRate.base == base, ExchangeRate.quote == quote),
                       and_(ExchangeRate.base == quote, ExchangeRate.quote == base)),
                   ExchangeRate.valid_from <= on_date)
            .order_by(ExchangeRate.valid_from.desc(), (ExchangeRate.base == base).desc())
            .limit(1))
    row = session.scalar(stmt)
    if row is None:
        return None
    rate = Decimal(row.rate)
    return row.valid_from, rate if row.base == base else _inverse(rate), row.source


def _inverse(rate: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Decimal(1) / rate


def _from_plugins(session: Session, base: str, quote: str,
                  on_date: dt.date) -> Decimal | None:
    host = session.info.get("carebiz.host")
    if host is None:
        return None
    best: tuple[dt.date, int, Decimal] | None = None
    for q in host.collect("exchange_rates", base=base, quote=quote, on_date=on_date):
        try:
            q_base, q_quote = check_code(q.base), check_code(q.quote)
            rate = parse_rate(q.rate)
            day = parse_date(q.valid_from)
        except (ValidationFailed, AttributeError):
            continue  # a plugin's bad quote is ignored, never used
        if day > on_date:
            continue
        if (q_base, q_quote) == (base, quote):
            candidate = (day, 1, rate)
        elif (q_base, q_quote) == (quote, base):
            candidate = (day, 0, _inverse(rate))
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def find_rate(session: Session, base: str, quote: str, on_date: dt.date) -> Decimal | None:
    """The rate of the pair itself on ``on_date`` (stored, else from plugins), or None."""
    if base == quote:
        return Decimal(1)
    stored = _stored(session, base, quote, on_date)
    if stored is not None:
        return stored[1]
    return _from_plugins(session, base, quote, on_date)


def base_currency(session: Session) -> str:
    """The company's base currency (setting ``core.base_currency``)."""
    host = session.info.get("carebiz.host")
    if host is None:
        return "CNY"
    from carebiz.services.settings import get

    return check_code(get(session, host, "core.base_currency"), "core.base_currency")


def rate_on(session: Session, base: Any, quote: Any, on_date: Any) -> Decimal:
    """How many ``quote`` units one ``base`` unit costs on ``on_date``: the newest rate with
    ``valid_from <= on_date`` in either direction, else the plugins' quotes, else the cross
    rate through the base currency. Raises :class:`MissingRate`."""
    base, quote = check_code(base, "base"), check_code(quote, "quote")
    day = parse_date(on_date, "date")
    rate = find_rate(session, base, quote, day)
    if rate is not None:
        return rate
    home = base_currency(session)
    if home not in (base, quote):
        first = find_rate(session, base, home, day)
        second = find_rate(session, home, quote, day) if first is not None else None
        if first is not None and second is not None:
            with localcontext() as ctx:
                ctx.prec = PRECISION
                return first * second
    raise MissingRate(base, quote, day)


def convert_amount(amount: Decimal, rate: Decimal, to: str) -> Money:
    """``amount * rate`` rounded half-up to the minor unit of ``to``."""
    with localcontext() as ctx:
        ctx.prec = PRECISION + 20
        exact = amount * rate
    return Money(quantize(exact, to, ROUNDING), to)


def convert(session: Session, money: Money, to: Any, on_date: Any) -> Money:
    """``money`` in currency ``to`` at the rate in force on ``on_date`` (the document date),
    rounded to ``to``'s minor unit. Raises :class:`MissingRate`."""
    to = check_code(to, "to")
    if money.currency == to:
        return money.quantize()
    return convert_amount(money.amount, rate_on(session, money.currency, to, on_date), to)


def to_base(session: Session, money: Money, on_date: Any) -> Money:
    """The base-currency equivalent a document shows next to its own amount."""
    return convert(session, money, base_currency(session), on_date)


def total_in_base(session: Session, items: Iterable[tuple[Money, Any]]) -> Money:
    """Sum of ``(money, document date)`` pairs in the base currency, each converted at its own
    document's date (as reports in base currency do)."""
    home = base_currency(session)
    total = Money.zero(home).quantize()
    for money, on_date in items:
        total = total + convert(session, money, home, on_date)
    return total


def list_rates(base: str | None = None, quote: str | None = None) -> Any:
    """The statement listing stored rates, newest first per pair, optionally of one pair."""
    stmt = select(ExchangeRate).order_by(ExchangeRate.base, ExchangeRate.quote,
                                         ExchangeRate.valid_from.desc())
    if base:
        stmt = stmt.where(ExchangeRate.base == check_code(base, "base"))
    if quote:
        stmt = stmt.where(ExchangeRate.quote == check_code(quote, "quote"))
    return stmt

