"""Reading an upload into a :class:`Table` of text cells: CSV in the encodings and
delimiters Excel writes, and .xlsx workbooks; files that are empty, foreign or too large are
refused with a message that says how to fix them."""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

from carebiz.crm.importing import limits
from carebiz.crm.importing.limits import (
    EXTENSIONS,
    UnreadableFile,
    too_large_error,
    too_many_rows_error,
)


@dataclass
class Table:
    """A file's header and data rows, every cell already text. ``rows`` holds the row number
    as the user sees it in Excel (the header is row 1 when it is the first line) and the
    cells; rows without any value are left out but keep the numbering right."""

    headers: list[str]
    rows: list[tuple[int, list[str]]]
    header_row: int = 1


def extension_of(filename: str | None) -> str:
    """The lower-case extension of an upload, refusing what the importer cannot read."""
    name = (filename or "").strip()
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in EXTENSIONS:
        return ext
    if ext in ("xls", "et", "numbers", "ods"):
        raise UnreadableFile(
            _("“%(name)s” is in a spreadsheet format that cannot be read. Save it as an Excel "
              "workbook (.xlsx) or as CSV and upload it again.", name=name),
            {"file": _("Save the file as .xlsx or .csv.")})
    raise UnreadableFile(
        _("“%(name)s” is not a CSV or Excel (.xlsx) file. Export the customer list as .csv "
          "or .xlsx and upload that.", name=name or "?"),
        {"file": _("Choose a .csv or .xlsx file.")})


def read_stream(stream: Any) -> bytes:
    """An upload's bytes, reading at most one byte past the limit so a huge upload is
    refused without being held in memory."""
    data = stream.read(limits.MAX_BYTES + 1)
    if len(data) > limits.MAX_BYTES:
        raise too_large_error()
    return data


def read_table(data: bytes, filename: str, sample: int | None = None) -> Table:
    """Read an upload's bytes as a table; ``filename`` only tells the format. With
    ``sample`` only that many data rows are read: enough to refuse a wrong file at once,
    while a large workbook is read in full only by the background job."""
    ext = extension_of(filename)
    if len(data) > limits.MAX_BYTES:
        raise too_large_error()
    if ext == "xlsx":
        return _read_xlsx(data, sample)
    return _read_csv(data, sample)


def read_path(path: Path) -> Table:
    """Read a stored upload (its extension was set when it was stored)."""
    if path.stat().st_size > limits.MAX_BYTES:
        raise too_large_error()
    return read_table(path.read_bytes(), path.name)


def cell_text(value: Any) -> str:
    """One cell as text. Excel stores a phone number typed into a General cell as the number
    13800138000 (and xlsx files keep it as 13800138000.0), which must not come back with a
    ``.0`` or in exponent notation; dates come back as ISO dates, the form services take."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _table_from(records: Iterable[list[Any]], sample: int | None = None) -> Table:
    """Find the header (the first row with a value) and collect the data rows below it
    (only the first ``sample`` of them when given)."""
    headers: list[str] | None = None
    header_row = 0
    rows: list[tuple[int, list[str]]] = []
    for number, record in enumerate(records, start=1):
        cells = [cell_text(c) for c in record]
        while cells and not cells[-1]:
            cells.pop()
        if headers is None:
            if cells:
                headers, header_row = cells, number
            continue
        if not cells:
            continue
        if len(rows) >= limits.MAX_ROWS:
            raise too_many_rows_error()
        rows.append((number, cells))
        if sample is not None and len(rows) >= sample:
            break
    if headers is None:
        raise UnreadableFile(_("The file is empty. The first row must name the columns, e.g. "
                               "name, phone, vin; download the template to start from."),
                             {"file": _("The file is empty.")})
    if not rows:
        raise UnreadableFile(_("The file has a header row but no rows of customers below it."),
                             {"file": _("No rows below the header.")})
    return Table(headers, rows, header_row)


def _decode(data: bytes) -> str:
    """UTF-8 (with or without the BOM Excel writes) first: it almost never decodes text that
    is not UTF-8. Chinese Excel saves "CSV" in the system code page, GBK, whose superset
    GB18030 comes next; "Unicode text" exports are UTF-16 with a BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-16 after all: try the others
            return data.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile(_("The file's text encoding is not recognised. Save it as “CSV UTF-8” "
                           "and upload it again."),
                         {"file": _("Save the file as CSV UTF-8.")})


def _delimiter(text: str) -> str:
    """Comma, semicolon (Excel in locales with a decimal comma) or tab, whichever the header
    line holds most of; csv.Sniffer guesses wrongly on short files with few columns."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_csv(data: bytes, sample: int | None = None) -> Table:
    if data.startswith(b"PK\x03\x04"):
        raise UnreadableFile(_("This file is an Excel workbook, not CSV; give it the "
                               "extension .xlsx and upload it again."),
                             {"file": _("An Excel workbook named .csv.")})
    text = _decode(data)
    if "\x00" in text:
        raise UnreadableFile(_("The file is not a text file; upload a CSV or .xlsx file."),
                             {"file": _("Not a text file.")})
    try:
        return _table_from(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)),
                           sample)
    except csv.Error as exc:
        raise UnreadableFile(_("The CSV file cannot be read: %(error)s", error=str(exc)),
                             {"file": str(exc)}) from exc


def _read_xlsx(data: bytes, sample: int | None = None) -> Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise UnreadableFile(_("The file cannot be read as an Excel workbook (.xlsx). Open it "
                               "in Excel, save it as .xlsx or CSV and upload it again."),
                             {"file": _("Not a readable .xlsx file.")}) from exc
    try:
        if not book.worksheets:
            raise UnreadableFile(_("The workbook has no worksheet."),
                                 {"file": _("No worksheet.")})
        sheet = book.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            # files written by other programs often declare wrong dimensions, which would
            # make read-only mode stop early; read up to the last row really present
            sheet.reset_dimensions()
        return _table_from((list(r) for r in sheet.iter_rows(min_row=1, values_only=True)),
                           sample)
    finally:
        book.close()

