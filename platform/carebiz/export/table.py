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
    """A column: its key in the rows, its translated label and its type. For money,
    ``currency`` is a fixed ISO code or ``currency_key`` names the column holding it."""

    key: str
    label: Any
    type: str = TEXT
    currency: str | None = None
    currency_key: str | None = None
    width: int | None = None  # characters, a hint for writers that lay out columns


@dataclass
class Table:
    """A data set to export. ``filters`` describe what the user selected (written in the
    file's header so a printout says what it shows); ``rows`` yields mappings or sequences in
    column order."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Any]
    filters: Sequence[str] = field(default_factory=list)
    locale: str = "en"
    total: int | None = None  # known row count, for progress bars

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
