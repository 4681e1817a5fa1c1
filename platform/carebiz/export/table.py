"""What an export is made of: typed columns and a stream of rows.

Rows are an iterator, never a list, so a writer that streams (CSV, xlsx in constant-memory
mode) exports any number of rows in constant memory. Values keep their Python types (Decimal,
date, datetime, bool, None) so a writer can type its cells; money columns name their
currency (fixed, or per row from another column)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

TEXT, NUMBER, MONEY, DATE, DATETIME, BOOL = "text", "number", "money", "date", "datetime", "bool"
TYPES = (TEXT, NUMBER, MONEY, DATE, DATETIME, BOOL)


@dataclass(frozen=True)
class Column:
    """A column of a :class:`Table`: writers read its type to type their cells (a money
    column becomes a number cell with its currency, not text), so every format shows the
    same data the same way.

    Attributes:
        key: the column's key in mapping rows (ignored for rows given as sequences).
        label: its heading, translated (``_l("Customer")``).
        type: one of :data:`TYPES`: ``text``, ``number``, ``money``, ``date``, ``datetime``
            or ``bool``.
        currency: for money, the fixed ISO 4217 code of every row.
        currency_key: for money, the key of the column holding each row's currency.
        width: a width hint in characters for writers that lay out columns (optional).
    """

    key: str
    label: Any
    type: str = TEXT
    currency: str | None = None
    currency_key: str | None = None
    width: int | None = None


@dataclass
class Table:
    """A data set to export, as an :class:`~carebiz.contributions.ExportTable`'s builder
    returns it: what every export format writes. Not frozen: ``rows`` is an iterator the
    writer consumes once.

    Attributes:
        title: the data set's title (the sheet's name, the file's heading).
        columns: the columns in the order they are written.
        rows: an iterable of mappings (by column key), SQLAlchemy rows, or sequences in
            column order; read once, lazily, so a streaming writer holds one row at a time.
        filters: what the user selected, one sentence each, written in the file's header so a
            printout says what it shows.
        locale: the language the labels and values are written in (``"zh_CN"``).
        total: the known number of rows, for progress bars (None when unknown).
    """

    title: str
    columns: Sequence[Column]
    rows: Iterable[Any]
    filters: Sequence[str] = field(default_factory=list)
    locale: str = "en"
    total: int | None = None

    def values(self) -> Iterator[list[Any]]:
        """Each row as a list in column order."""
        keys = [c.key for c in self.columns]
        for row in self.rows:
            if isinstance(row, dict):
                yield [row.get(k) for k in keys]
            elif hasattr(row, "_mapping"):
                yield [row._mapping.get(k) for k in keys]
            else:
                yield list(row)


def text_of(value: Any) -> str:
    """The plain-text form every text writer shares: ISO dates, exact decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (list, tuple)):
        return " ".join(text_of(v) for v in value)
    return str(value)
