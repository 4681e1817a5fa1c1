"""Demo exchange rates: a year of daily rates of the currencies a Chinese dealership meets
(US dollar, euro, Hong Kong dollar, yen) against the renminbi, as a seeded random walk around
real-looking levels, so conversions, the rates page and reports have history to show.

One rate per weekday, like a central bank's daily fixing (a rate stays in force until the
next one, so weekends are covered). Written in bulk without an audit entry per row: demo
data, not a clerk's entries. Deterministic (seeded) and skipped when demo rates exist."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from carebiz.currency.models import ExchangeRate
from carebiz.db import utcnow

SOURCE = "demo"
DAYS = 365
#: quote currency CNY: one unit of base costs this many yuan (levels of late 2026), with the
#: day-to-day volatility of each pair
PAIRS = {"USD": (Decimal("7.1200"), 0.0025), "EUR": (Decimal("7.7400"), 0.0040),
         "HKD": (Decimal("0.9150"), 0.0025), "JPY": (Decimal("0.047300"), 0.0050)}
QUOTE = "CNY"


def load_rates(session: Session, today: dt.date | None = None) -> int:
    """Add a year of weekday rates for every pair; return how many (0 when demo rates exist
    already). Walks backwards from ``today`` so the newest rate is the level above."""
    if session.scalar(select(ExchangeRate.id).where(ExchangeRate.source == SOURCE)
                      .limit(1)) is not None:
        return 0
    today = today or dt.date.today()
    rng = random.Random(20261202)
    now = utcnow()
    rows = []
    for base, (level, volatility) in PAIRS.items():
        places = -level.as_tuple().exponent
        value = float(level)
        for back in range(DAYS):
            day = today - dt.timedelta(days=back)
            if day.weekday() >= 5:
                continue
            rows.append({"base": base, "quote": QUOTE, "valid_from": day, "source": SOURCE,
                         "rate": Decimal(f"{value:.{places}f}"), "created_at": now})
            value *= 1 + rng.gauss(0, volatility)
    taken = {(b, d) for b, d in session.execute(
        select(ExchangeRate.base, ExchangeRate.valid_from).where(
            ExchangeRate.quote == QUOTE, ExchangeRate.valid_from > today - dt.timedelta(DAYS)))}
    rows = [r for r in rows if (r["base"], r["valid_from"]) not in taken]  # a clerk's win
    if rows:
        session.execute(insert(ExchangeRate), rows)
    return len(rows)
