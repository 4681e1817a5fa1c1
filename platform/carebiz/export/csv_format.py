"""CSV, written by the core: UTF-8, optionally with the BOM that Excel in China needs to
read UTF-8, and spreadsheet formulas made inert."""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import IO, Any

from carebiz.export.table import Table, text_of
from carebiz.text import printable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a whole number as a spreadsheet reads one: -12.5, +86, -1,234.56, -1e-05
NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]?\.\d+")
#: a phone number in international form: +8613800138000, +86 138 0013 8000, +1 (415) 555-0100
PHONE = re.compile(r"\+\d[\d ()./-]{4,28}\d")


def inert(value: Any) -> Any:
    """A text cell starting with = + - @ (or a tab or carriage return) is a formula to Excel;
    quote it. Only a cell that is *entirely* a number (-5, -12.5, +86) or a phone number in
    international form (+86 138 0013 8000) stays as it is: nothing in them can call a
    function. ``=1+HYPERLINK(…)`` starts with a digit after the sign and is still a formula.
    Non-text values stay. Every CSV the platform writes goes through this one rule."""
    if isinstance(value, str) and value[:1] in FORMULA_START \
            and NUMBER.fullmatch(value) is None and PHONE.fullmatch(value) is None:
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
        writer.writerow([inert(printable(str(line)))])
    writer.writerow([printable(str(c.label)) for c in table.columns])
    count = 0
    for values in table.values():
        # printable: a lone surrogate stored in a JSON column would stop the UTF-8 encoder
        writer.writerow([inert(printable(text_of(v))) for v in values])
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    text.flush()
    text.detach()
    return count
