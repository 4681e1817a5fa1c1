"""CSV, written by the core: UTF-8, optionally with the BOM that Excel in China needs to
read UTF-8, and spreadsheet formulas made inert."""

from __future__ import annotations

import codecs
import csv
import io
from typing import IO, Any

from carebiz.export.table import Table, text_of

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """A text cell starting with = + - @ (or a tab or carriage return) is a formula to Excel;
    quote it. Numbers such as -5, phone numbers such as +86… and non-text values stay as they
    are. Every CSV the platform writes goes through this one rule."""
    if isinstance(value, str) and value[:1] in FORMULA_START and not value[1:2].isdigit():
        return "'" + value
    return value


def write_csv(table: Table, out: IO[bytes], *, bom: bool = True,
              progress: Any = None) -> int:
    """Stream ``table`` to ``out``; return the number of rows written."""
    if bom:
        out.write(codecs.BOM_UTF8)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    for line in table.filters:
        writer.writerow([inert(str(line))])
    writer.writerow([str(c.label) for c in table.columns])
    count = 0
    for values in table.values():
        writer.writerow([inert(text_of(v)) for v in values])
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    text.flush()
    text.detach()
    return count
