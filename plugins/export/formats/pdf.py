"""PDF: the table as an HTML page rendered by WeasyPrint on A4, laid out from its content
(:mod:`.pdf_layout`: orientation, font size and column widths chosen so no word, number or
phone is broken across lines), the header row repeated on each page, page numbers "X / Y" in
the footer, a CJK font on ``html`` (page-margin boxes do not inherit the body font) and no
resource fetched except ``data:`` URIs.

Layout costs about 0.2 s per page: long lists run as a background job (see
:data:`SYNC_ROWS`)."""

from __future__ import annotations

from collections.abc import Iterator
from html import escape
from typing import IO, Any

from carebiz.export.table import Table

from ._common import NUMERIC, document_rows, html_lang
from .pdf_layout import ATOM, PHONE, Layout, Measure, choose_layout, unbroken_column

FONTS = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif'

#: a PDF list longer than this is written by a background job whose page shows progress
#: (about 40 rows a page at 0.2-0.4 s of CPU a page: 150 rows take 1-2 s in the request)
SYNC_ROWS = 150


def pdf_css(layout: Layout) -> str:
    """The page's style for ``layout``: lines break at spaces only (no hyphenation, no
    break inside CJK runs or words) unless the layout has no other way."""
    breaking = "anywhere" if layout.break_anywhere else "normal"
    return f"""
@page {{ size: {layout.page_size}; margin: 12mm 10mm 14mm;
  @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 8pt;
    color: #555; }} }}
html {{ font-family: {FONTS}; font-size: {layout.font_pt}pt; color: #222; }}
body {{ margin: 0; }}
h1 {{ font-size: 13pt; margin: 0 0 3pt; }}
ul.filters {{ list-style: none; padding: 0; margin: 0 0 5pt; color: #555; font-size: 8pt; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; line-height: 1.2; }}
td, th {{ overflow-wrap: {breaking}; hyphens: none; }}
thead {{ display: table-header-group; }}
tr {{ break-inside: avoid; }}
th, td {{ border: 0.5pt solid #bbb; padding: 1.5pt 3pt; text-align: left;
  vertical-align: top; }}
thead th {{ background: #dde4ee; }}
tbody tr:nth-child(even) td {{ background: #f6f8fb; }}
.num {{ text-align: right; }}
.nw {{ white-space: nowrap; }}
"""


def cell_html(text: str, unbroken: bool) -> str:
    """A text cell's content, phone numbers, tokens with a hyphen or slash (dates, codes)
    and Chinese words kept on one line each; a line breaks only at the spaces between
    them."""
    if unbroken or not text:
        return escape(text)
    out, pos = [], 0
    for match in _atoms(text):
        out.append(escape(text[pos:match[0]]))
        out.append(f'<span class="nw">{escape(text[match[0]:match[1]])}</span>')
        pos = match[1]
    out.append(escape(text[pos:]))
    return "".join(out)


def _atoms(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for pattern in (PHONE, ATOM):
        for m in pattern.finditer(text):
            if m.group(0).strip() and not any(a < m.end() and m.start() < b for a, b in spans):
                spans.append((m.start(), m.end()))
    return sorted(spans)


def measure(table: Table, rows: list[list[tuple[str, bool]]]) -> Layout:
    unbroken = [unbroken_column(c) for c in table.columns]
    heads = []
    for column in table.columns:
        head = Measure()
        head.add(str(column.label), False)
        heads.append(head)
    cols = [Measure() for _ in table.columns]
    for cells in rows:
        for i, (text, _numeric) in enumerate(cells):
            cols[i].add(text, unbroken[i])
    return choose_layout(cols, heads)


def html_page(table: Table, rows: list[list[tuple[str, bool]]], layout: Layout) -> Iterator[str]:
    title = escape(str(table.title))
    yield (f'<!DOCTYPE html>\n<html lang="{html_lang(table.locale)}">\n<head>\n'
           f'<meta charset="utf-8">\n<title>{title}</title>\n<style>{pdf_css(layout)}</style>\n'
           f"</head>\n<body>\n<h1>{title}</h1>\n")
    if table.filters:
        items = "".join(f"<li>{escape(str(f))}</li>" for f in table.filters)
        yield f'<ul class="filters">{items}</ul>\n'
    cols = "".join(f'<col style="width: {w:.1f}pt">' for w in layout.widths)
    numeric = [c.type in NUMERIC for c in table.columns]
    unbroken = [unbroken_column(c) for c in table.columns]
    classes = [" ".join(n for n, on in (("num", numeric[i]), ("nw", unbroken[i])) if on)
               for i in range(len(numeric))]
    attrs = [f' class="{c}"' if c else "" for c in classes]
    head = "".join(f'<th{" class=num" if numeric[i] else ""}>{cell_html(str(c.label), False)}'
                   "</th>" for i, c in enumerate(table.columns))
    yield f"<table><colgroup>{cols}</colgroup>\n<thead><tr>{head}</tr></thead>\n<tbody>\n"
    # last resort (a word wider than the page): text may break anywhere, so no nowrap spans
    plain = [u or layout.break_anywhere for u in unbroken]
    for cells in rows:
        yield "<tr>" + "".join(f"<td{attrs[i]}>{cell_html(text, plain[i])}</td>"
                               for i, (text, _num) in enumerate(cells)) + "</tr>\n"
    yield "</tbody>\n</table>\n</body>\n</html>\n"


def data_only_fetcher() -> Any:
    """A URL fetcher refusing every scheme but ``data:`` (no file, no network)."""
    try:
        from weasyprint import URLFetcher
    except ImportError:  # WeasyPrint before 68: a plain function
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args: Any, **kwargs: Any) -> Any:
            if not url.lower().startswith("data:"):
                raise ValueError(f"refused to fetch {url[:80]}")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols=("data",), allow_redirects=False)


def write_pdf(table: Table, out: IO[bytes], *, progress: Any = None) -> int:
    """Render ``table`` as PDF into ``out``; return the rows written. Every row is read
    before the layout is chosen (the widest cell decides a column's width); a PDF list is
    short enough to hold, long ones run in a job."""
    from weasyprint import HTML

    rows = []
    for cells in document_rows(table):
        rows.append(cells)
        if progress is not None and len(rows) % 1000 == 0:
            progress(len(rows))
    layout = measure(table, rows)
    page = "".join(html_page(table, rows, layout))
    HTML(string=page, url_fetcher=data_only_fetcher()).write_pdf(out)
    return len(rows)
