"""Excel (xlsx) through xlsxwriter in constant-memory mode: typed cells (numbers, dates, money
with its currency format, booleans), a styled and frozen header, column widths and an
autofilter; the filters the user chose are written above the header."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import tempfile
from decimal import Decimal
from typing import IO, Any

import xlsxwriter

from carebiz.export.table import BOOL, DATE, DATETIME, MONEY, Column, Table, text_of
from carebiz.text import printable

from ._common import column_index, currency_digits, currency_symbol, display_width

SAMPLE_ROWS = 100  # rows buffered to estimate the column widths
MAX_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
TYPE_WIDTH = {DATE: 11, DATETIME: 17, BOOL: 6}


def money_format(code: str, locale: str | None) -> str:
    """``"¥"#,##0.00`` for CNY, ``"¥"#,##0`` for JPY: the symbol and Babel's precision."""
    symbol = currency_symbol(code, locale).replace('"', "")
    digits = currency_digits(code)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    return f'"{symbol}"{number};-"{symbol}"{number}'


def _width(column: Column, rows: list[list[Any]], i: int) -> float:
    if column.width:
        return column.width
    width = max(display_width(str(column.label)), TYPE_WIDTH.get(column.type, 0))
    for row in rows:
        value = row[i] if i < len(row) else None
        if value is not None and column.type not in TYPE_WIDTH:
            width = max(width, display_width(text_of(value)) + (3 if column.type == MONEY else 0))
    return min(width + 2, MAX_WIDTH)


def write_xlsx(table: Table, out: IO[bytes], *, progress: Any = None,
               sheet_name: str | None = None) -> int:
    """Stream ``table`` into an xlsx workbook written to ``out``; return the rows written."""
    if _seekable(out):
        return _workbook(table, out, progress, sheet_name)
    with tempfile.TemporaryFile(suffix=".xlsx") as tmp:
        count = _workbook(table, tmp, progress, sheet_name)
        tmp.seek(0)
        shutil.copyfileobj(tmp, out)
    return count


def _workbook(table: Table, target: IO[bytes], progress: Any, sheet_name: str | None) -> int:
    wb = xlsxwriter.Workbook(target, {"constant_memory": True, "in_memory": False,
                                      "remove_timezone": True, "strings_to_formulas": False,
                                      "strings_to_urls": False, "strings_to_numbers": False})
    try:
        return _fill(wb, table, progress, sheet_name)
    finally:
        wb.close()


def _seekable(out: Any) -> bool:
    try:
        return bool(out.seekable()) and hasattr(out, "tell")
    except (AttributeError, ValueError, OSError):
        return False


def _fill(wb: Any, table: Table, progress: Any, sheet_name: str | None) -> int:
    ws = wb.add_worksheet(_sheet_title(sheet_name or table.title))
    columns = list(table.columns)
    ncols = len(columns)
    index = column_index(columns)
    header = wb.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1,
                            "text_wrap": False, "valign": "vcenter"})
    filter_fmt = wb.add_format({"italic": True, "font_color": "#555555"})
    date_fmt = wb.add_format({"num_format": DATE_FORMAT})
    datetime_fmt = wb.add_format({"num_format": DATETIME_FORMAT})
    money_fmts: dict[str | None, Any] = {}

    def money_fmt(code: str | None) -> Any:
        fmt = money_fmts.get(code)
        if fmt is None:
            spec = money_format(code, table.locale) if code else "#,##0.00"
            fmt = money_fmts[code] = wb.add_format({"num_format": spec})
        return fmt

    rows = table.values()
    sample = list(itertools.islice(rows, SAMPLE_ROWS))
    for i, column in enumerate(columns):
        ws.set_column(i, i, _width(column, sample, i))

    def write_text(r: int, i: int, value: str, fmt: Any = None) -> None:
        """Strings are always written as strings (never formulas: the workbook is opened
        with ``strings_to_formulas`` off), without characters XML cannot hold."""
        ws.write_string(r, i, printable(value), fmt)

    r = 0
    for line in table.filters:
        write_text(r, 0, str(line), filter_fmt)
        r += 1
    head = r
    for i, column in enumerate(columns):
        write_text(head, i, str(column.label), header)
    ws.freeze_panes(head + 1, 0)

    # per column: value class -> (xlsxwriter method, format); anything else takes the slow path
    handlers: list[dict[type, tuple[Any, Any]]] = []
    for column in columns:
        number_fmt = None
        if column.type == MONEY:
            number_fmt = None if column.currency_key else money_fmt(column.currency)
        stamp_fmt = date_fmt if column.type == DATE else datetime_fmt
        by_class: dict[type, tuple[Any, Any]] = {
            str: (write_text, None), bool: (ws.write_boolean, None),
            dt.datetime: (ws.write_datetime, stamp_fmt), dt.date: (ws.write_datetime, date_fmt)}
        if column.type != MONEY or number_fmt is not None:
            for cls in (int, float, Decimal):
                by_class[cls] = (ws.write_number, number_fmt)
        handlers.append(by_class)

    def slow(r: int, i: int, value: Any, values: list[Any]) -> None:
        column = columns[i]
        if isinstance(value, bool):
            ws.write_boolean(r, i, value)
        elif isinstance(value, (int, float, Decimal)):
            fmt = None
            if column.type == MONEY:
                code = values[index[column.currency_key]] if column.currency_key in index \
                    else None
                fmt = money_fmt(str(code) if code else column.currency)
            ws.write_number(r, i, value, fmt)
        elif isinstance(value, dt.datetime):
            ws.write_datetime(r, i, value, date_fmt if column.type == DATE else datetime_fmt)
        elif isinstance(value, dt.date):
            ws.write_datetime(r, i, value, date_fmt)
        elif isinstance(value, str):
            write_text(r, i, value)
        else:
            write_text(r, i, text_of(value))

    r = head
    count = 0
    for values in itertools.chain(sample, rows):
        r += 1
        for i, (value, by_class) in enumerate(zip(values, handlers, strict=False)):
            if value is None:
                continue
            handler = by_class.get(value.__class__)
            if handler is None:
                slow(r, i, value, values)
            else:
                handler[0](r, i, value, handler[1])
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    ws.autofilter(head, 0, max(r, head), max(ncols - 1, 0))
    return count


def _sheet_title(title: str) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\."""
    clean = "".join(" " if ch in "[]:*?/\\" else ch for ch in str(title)).strip(" '")
    return clean[:31] or "Sheet1"

