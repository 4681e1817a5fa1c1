"""The export plugin's formats, each read back with an independent reader."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from carebiz.export.table import Column, Table
from carebiz.testing.pdf import embeds_cjk_font, font_names, pdf_text, require_cjk_font
from carebiz_plugins.export.formats._common import display_width
from carebiz_plugins.export.formats.docx import write_docx
from carebiz_plugins.export.formats.html import write_html
from carebiz_plugins.export.formats.pdf import write_pdf
from carebiz_plugins.export.formats.txt import write_txt
from carebiz_plugins.export.formats.xlsx import money_format, write_xlsx

COLUMNS = [
    Column("name", "姓名 Name"),
    Column("visits", "Visits", "number"),
    Column("rate", "Rate", "number"),
    Column("ltv", "Value ¥", "money", currency="CNY"),
    Column("price", "Price", "money", currency_key="cur"),
    Column("cur", "Currency"),
    Column("since", "Since", "date"),
    Column("seen", "Last seen", "datetime"),
    Column("vip", "VIP", "bool"),
]

ROWS = [
    {"name": "王伟", "visits": 3, "rate": 0.25, "ltv": Decimal("1234.50"),
     "price": Decimal("98000"), "cur": "JPY", "since": dt.date(2024, 5, 1),
     "seen": dt.datetime(2025, 1, 2, 9, 30), "vip": True},
    {"name": "Alice <script>alert(1)</script>", "visits": None, "rate": 1.5, "ltv": None,
     "price": Decimal("10.5"), "cur": "CNY", "since": None, "seen": None, "vip": False},
    {"name": "李小龙龙", "visits": 120000, "rate": None, "ltv": Decimal("-7.00"),
     "price": None, "cur": None, "since": dt.date(2020, 1, 31), "seen": None, "vip": None},
]


def table(locale: str = "zh_CN") -> Table:
    return Table("客户列表 Customers", COLUMNS, iter(ROWS), filters=["分行: A", "VIP only"],
                 locale=locale)


def write(writer, **kw) -> bytes:
    out = io.BytesIO()
    assert writer(table(**kw), out) == len(ROWS)
    return out.getvalue()


def test_xlsx_typed_cells_header_freeze_filter_widths():
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(write(write_xlsx)))
    ws = wb.active
    assert ws["A1"].value == "分行: A" and ws["A2"].value == "VIP only"
    assert [c.value for c in ws[3]] == [str(c.label) for c in COLUMNS]
    assert ws["A3"].font.b and ws["A3"].fill.fgColor.rgb.endswith("DDE4EE")
    assert ws.freeze_panes == "A4"
    assert ws.auto_filter.ref == "A3:I6"
    first = [c.value for c in ws[4]]
    assert first[0] == "王伟"
    assert first[1] == 3 and isinstance(first[1], int)
    assert first[2] == 0.25
    assert first[3] == 1234.5 and isinstance(first[3], float)
    assert isinstance(first[6], dt.datetime) and first[6] == dt.datetime(2024, 5, 1)
    assert first[7] == dt.datetime(2025, 1, 2, 9, 30)
    assert first[8] is True
    assert ws["G4"].number_format == "yyyy-mm-dd"
    assert ws["H4"].number_format == "yyyy-mm-dd hh:mm"
    assert '"¥"#,##0.00' in ws["D4"].number_format  # CNY in zh_CN, two decimals
    assert "#,##0;" in ws["E4"].number_format and "¥" in ws["E4"].number_format  # JPY: none
    assert '"¥"#,##0.00' in ws["E5"].number_format  # per-row currency: CNY
    assert ws["D6"].value == -7
    second = [c.value for c in ws[5]]
    assert second[0] == "Alice <script>alert(1)</script>" and second[1] is None
    assert second[8] is False
    assert ws["C6"].value is None and ws["I6"].value is None
    assert ws.column_dimensions["A"].width > len("Alice <script>")  # from the content
    assert ws.max_row == 6


def test_money_format_uses_babel_precision():
    assert money_format("CNY", "zh_CN").startswith('"¥"#,##0.00;')
    assert money_format("JPY", "en").startswith('"¥"#,##0;')
    assert money_format("KWD", "en").count("0.000") == 2


def test_xlsx_to_unseekable_stream():
    import openpyxl

    class Pipe(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.data += b
            return len(b)

    pipe = Pipe()
    assert write_xlsx(table(), pipe) == 3
    ws = openpyxl.load_workbook(io.BytesIO(bytes(pipe.data))).active
    assert ws["A4"].value == "王伟"


def test_docx_heading_filters_table_and_repeated_header():
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document(io.BytesIO(write(write_docx)))
    heading = doc.paragraphs[0]
    assert heading.text == "客户列表 Customers" and heading.style.name.startswith("Heading")
    assert "分行: A" in doc.paragraphs[1].text
    grid = doc.tables[0]
    assert len(grid.rows) == 1 + len(ROWS)
    assert [c.text for c in grid.rows[0].cells] == [str(c.label) for c in COLUMNS]
    flag = grid.rows[0]._tr.trPr.find(qn("w:tblHeader"))
    assert flag is not None and flag.get(qn("w:val")) == "true"
    assert grid.rows[1].cells[0].text == "王伟"
    assert grid.rows[1].cells[3].text == "¥1,234.50"
    assert grid.rows[1].cells[6].text == "2024-05-01"
    assert grid.rows[3].cells[0].text == "李小龙龙"
    fonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:hint")) == "eastAsia" and fonts.get(qn("w:eastAsia"))


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.title = ""
        self.cells: list[str] = []
        self.scripts = 0
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self.scripts += 1
        if tag in ("title", "td", "th"):
            self._in = tag
            if tag != "title":
                self.cells.append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in in ("td", "th"):
            self.cells[-1] += data


def test_html_standalone_escaped_and_aligned():
    data = write(write_html)
    page = Page()
    page.feed(data.decode("utf-8"))
    assert data.startswith(b"<!DOCTYPE html>")
    assert ("html", {"lang": "zh-CN"}) in page.tags
    assert ("meta", {"charset": "utf-8"}) in page.tags
    assert page.title == "客户列表 Customers"
    assert page.scripts == 0
    assert "Alice <script>alert(1)</script>" in page.cells
    assert "王伟" in page.cells and "¥1,234.50" in page.cells
    assert ("td", {"class": "num"}) in page.tags
    assert b"<link" not in data and b"src=" not in data  # nothing to fetch


def test_txt_aligned_with_cjk_double_width():
    text = write(write_txt).decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "客户列表 Customers" and lines[1] == "分行: A"
    grid = lines[lines.index("") + 1:]
    assert len(grid) == 2 + len(ROWS)
    assert set(grid[1]) <= {"-", " "}
    widths = {display_width(line) for line in grid}
    assert len(widths) == 1
    assert display_width("王伟") == 4
    assert grid[2].startswith("王伟 ")
    # name column: as wide as the widest name; the next column starts at the same place
    name_width = display_width("Alice <script>alert(1)</script>")
    assert display_width(grid[2].split("王伟")[0] + "王伟") == 4
    assert grid[2][len("王伟") + (name_width - 4):].startswith("  ")
    # numbers right-aligned
    visits_end = [display_width(line[:line.index(v) + len(v)])
                  for line, v in ((grid[2], " 3 "), (grid[4], "120000"))]
    assert visits_end[0] - 1 == visits_end[1]


def test_pdf_chinese_text_and_page_numbers():
    data = write(write_pdf)
    assert data.startswith(b"%PDF")
    require_cjk_font()
    text = pdf_text(data)
    assert re.search(r"(?m)^\s*1\s*/\s*1\s*$", text)  # the footer: page 1 of 1
    assert "Alice <script>alert(1)</script>" in text
    assert "客户列表 Customers" in text
    assert "王伟" in text and "李小龙龙" in text
    assert embeds_cjk_font(data), font_names(data)  # else Chinese prints as boxes


def test_pdf_refuses_external_resources():
    from carebiz_plugins.export.formats.pdf import data_only_fetcher

    fetcher = data_only_fetcher()
    with pytest.raises(ValueError):
        fetcher("file:///etc/passwd")
    with pytest.raises(ValueError):
        fetcher("http://example.invalid/x.png")
    assert fetcher("data:text/plain,hi") is not None


def test_plugin_found_through_entry_point(app):
    ext = app.extensions["carebiz"]
    assert "export" in ext.host.names
    assert ext.host.manifests["export"].package == "carebiz_plugins.export"
    with app.test_request_context():
        formats = {f.name: f for f in ext.host.collect("export_formats")}
    assert {"csv", "xlsx", "docx", "html", "txt", "pdf"} <= set(formats)
    assert formats["xlsx"].extension == "xlsx" and formats["pdf"].documents
    assert str(formats["docx"].label) == "Word (docx)"
