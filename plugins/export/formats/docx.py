"""Word (docx) through python-docx: the title as heading, the filters as a paragraph, a table
whose header row repeats on every page, and an East Asian font so Chinese renders well.

A docx is one XML part built in memory: large data sets belong in xlsx or CSV."""

from __future__ import annotations

from typing import IO, Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt

from carebiz.export.table import Table
from carebiz.text import printable

from ._common import NUMERIC, babel_locale, document_rows

EAST_ASIA_FONT = "Microsoft YaHei"


def _cjk_font(document: Any, locale: str | None) -> None:
    """Normal style: an East Asian font and the ``eastAsia`` hint, lang for Chinese."""
    style = document.styles["Normal"]
    style.font.size = Pt(10)
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    fonts.set(qn("w:eastAsia"), EAST_ASIA_FONT)
    fonts.set(qn("w:hint"), "eastAsia")
    loc = babel_locale(locale)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")
    lang.set(qn("w:val"), f"{loc.language}-{loc.territory}" if loc.territory else loc.language)


def _repeat_header(row: Any) -> None:
    trpr = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    trpr.append(flag)


def _fill(cell: Any, text: str, numeric: bool, bold: bool = False) -> None:
    para = cell.paragraphs[0]
    run = para.add_run(text)
    if bold:
        run.bold = True
    if numeric:
        para.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def write_docx(table: Table, out: IO[bytes], *, progress: Any = None,
               landscape: bool | None = None) -> int:
    """Write ``table`` as a Word document to ``out``; return the rows written."""
    columns = list(table.columns)
    document = Document()
    _cjk_font(document, table.locale)
    if landscape is None:
        landscape = len(columns) > 5
    if landscape:
        section = document.sections[0]
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = section.page_height, section.page_width
    document.add_heading(printable(str(table.title)), level=1)
    if table.filters:
        document.add_paragraph(printable("; ".join(str(f) for f in table.filters)))
    grid = document.add_table(rows=1, cols=max(len(columns), 1))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    numeric = [c.type in NUMERIC for c in columns]
    head = grid.rows[0]
    _repeat_header(head)
    for cell, column, num in zip(head.cells, columns, numeric, strict=False):
        _fill(cell, printable(str(column.label)), num, bold=True)
    count = 0
    for cells in document_rows(table):
        row = grid.add_row()
        for cell, (text, num) in zip(row.cells, cells, strict=False):
            if text:
                _fill(cell, text, num)
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    document.save(out)
    return count
