"""A standalone HTML page: ``<html lang>``, ``<meta charset>``, inline CSS, escaped values,
numbers right-aligned. Rows are streamed to ``out``."""

from __future__ import annotations

import io
from collections.abc import Iterator
from html import escape
from typing import IO, Any

from carebiz.export.table import Table

from ._common import NUMERIC, document_rows, html_lang

CSS = """
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei",
  "PingFang SC", sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .4em; }
ul.filters { list-style: none; padding: 0; margin: 0 0 1em; color: #555; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
thead th { background: #dde4ee; }
tbody tr:nth-child(even) td { background: #f6f8fb; }
.num { text-align: right; white-space: nowrap; }
"""


def html_chunks(table: Table, *, css: str = CSS, progress: Any = None,
                counter: list[int] | None = None, colgroup: str = "") -> Iterator[str]:
    """The page as text chunks; ``counter[0]`` receives the number of rows."""
    title = escape(str(table.title))
    yield (f'<!DOCTYPE html>\n<html lang="{html_lang(table.locale)}">\n<head>\n'
           f'<meta charset="utf-8">\n<title>{title}</title>\n<style>{css}</style>\n'
           f"</head>\n<body>\n<h1>{title}</h1>\n")
    if table.filters:
        items = "".join(f"<li>{escape(str(f))}</li>" for f in table.filters)
        yield f'<ul class="filters">{items}</ul>\n'
    head = "".join(
        f'<th{" class=num" if c.type in NUMERIC else ""}>{escape(str(c.label))}</th>'
        for c in table.columns)
    yield f"<table>{colgroup}\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
    count = 0
    for cells in document_rows(table):
        yield "<tr>" + "".join(
            f'<td class="num">{escape(text)}</td>' if num else f"<td>{escape(text)}</td>"
            for text, num in cells) + "</tr>\n"
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    yield "</tbody>\n</table>\n</body>\n</html>\n"
    if counter is not None:
        counter[0] = count


def write_html(table: Table, out: IO[bytes], *, progress: Any = None) -> int:
    """Stream ``table`` as a UTF-8 HTML page to ``out``; return the rows written."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n")
    counter = [0]
    for chunk in html_chunks(table, progress=progress, counter=counter):
        text.write(chunk)
    text.flush()
    text.detach()
    return counter[0]
