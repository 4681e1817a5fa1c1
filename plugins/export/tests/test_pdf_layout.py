"""The PDF list reads like a printed report: rendered to PNG (pdftoppm) and read back as text
(pdftotext -layout), no header or phone number is split across lines, a 300-customer list
fits in a handful of pages, the orientation follows the table's width, the header row
repeats and the pages are numbered."""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from carebiz.export.table import Column, Table
from carebiz_plugins.export.formats.pdf import cell_html, write_pdf
from carebiz_plugins.export.formats.pdf_layout import Measure, choose_layout

CUSTOMER_COLUMNS = [
    Column("id", "Id", "number"), Column("name", "Name"), Column("kind", "Kind"),
    Column("roles", "Roles"), Column("phones", "Phones"), Column("emails", "E-mails"),
    Column("branch", "Branch"), Column("tags", "Tags"),
    Column("ltv", "Lifetime value", "money", currency_key="currency"),
    Column("currency", "Currency"), Column("segment", "Segment")]
ARTEFACTS = Path(__file__).resolve().parents[3] / "test-results" / "screenshots"
HEADER_WORDS = ["Id", "Name", "Kind", "Roles", "Phones", "E-mails", "Branch", "Tags",
                "Lifetime", "value", "Currency", "Segment"]


def customers(count: int) -> list[dict]:
    rnd = random.Random(10)
    given = ["Ava", "Liam", "Olivia", "Christopher", "Elizabeth", "建国", "秀英"]
    family = ["Thomas", "Martinez-Rodriguez", "王", "Smith", "欧阳"]
    rows = []
    for i in range(count):
        phones = f"+86 138 {rnd.randrange(10000):04d} {rnd.randrange(10000):04d}"
        if i % 7 == 0:
            phones += f" 021-5555-{rnd.randrange(10000):04d}"
        rows.append({
            "id": 10_000 + i, "name": f"{rnd.choice(given)} {rnd.choice(family)}",
            "kind": "Person", "roles": "Customer, Owner" if i % 3 else "Customer",
            "phones": phones, "emails": f"customer.{i}@example-dealer.com",
            "branch": rnd.choice(["Shanghai Pudong", "Beijing Chaoyang", "Head office"]),
            "tags": "vip fleet" if i % 5 == 0 else "",
            "ltv": Decimal(rnd.randrange(1, 99_999_999)) / 100, "currency": "CNY",
            "segment": rnd.choice(["Champion", "At risk", "Loyal"])})
    return rows


def render(columns, rows, title="Customers") -> bytes:
    out = io.BytesIO()
    assert write_pdf(Table(title, columns, iter(rows), filters=["Branch: all"]), out) \
        == len(rows)
    return out.getvalue()


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian: apt-get install poppler-utils)")
    return path


def layout_text(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text as pdftotext -layout reads it (a cell's wrapped line would show as
    a second line of the row)."""
    src = tmp_path / "list.pdf"
    src.write_bytes(pdf)
    text = subprocess.run([need("pdftotext"), "-layout", str(src), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


@pytest.fixture(scope="module")
def list_300() -> tuple[bytes, list[dict]]:
    rows = customers(300)
    return render(CUSTOMER_COLUMNS, rows), rows


def test_300_customers_in_a_handful_of_landscape_pages(list_300, tmp_path):
    pdf, _rows = list_300
    reader = PdfReader(io.BytesIO(pdf))
    assert 3 <= len(reader.pages) <= 10, len(reader.pages)
    box = reader.pages[0].mediabox
    assert float(box.width) > float(box.height)  # eleven columns: landscape
    pages = layout_text(pdf, tmp_path)
    assert len(pages) == len(reader.pages)
    for number, page in enumerate(pages, start=1):
        assert re.search(rf"(?m)^\s*{number}\s*/\s*{len(pages)}\s*$", page), page[-200:]


def test_no_phone_or_header_split_and_header_on_every_page(list_300, tmp_path):
    pdf, rows = list_300
    pages = layout_text(pdf, tmp_path)
    lines = [re.sub(r" +", " ", line) for page in pages for line in page.splitlines()]
    for row in rows:  # every phone whole on one line: never a line break inside a number
        for phone in re.findall(r"\+86 \d{3} \d{4} \d{4}|\d{3}-\d{4}-\d{4}", row["phones"]):
            assert any(phone in line for line in lines), phone
        assert any(row["emails"] in line for line in lines), row["emails"]
    for page in pages:
        words = set(re.findall(r"[\w-]+", "\n".join(page.splitlines()[:6])))
        missing = [w for w in HEADER_WORDS if w not in words]
        assert not missing, (missing, page[:600])  # repeated, and no word cut (Branc/h)
    assert "Branc\n" not in "\n".join(pages)


def test_png_rendering_of_the_first_page(list_300, tmp_path):
    """The page as a reader sees it: rendered to PNG (kept for the test artefacts)."""
    pdf, _rows = list_300
    src = tmp_path / "list.pdf"
    src.write_bytes(pdf)
    subprocess.run([need("pdftoppm"), "-r", "60", "-f", "1", "-l", "1", "-png", str(src),
                    str(tmp_path / "page")], check=True)
    png = next(tmp_path.glob("page*.png"))
    data = png.read_bytes()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)  # beside the browser tests' screenshots
    (ARTEFACTS / "pdf-list-300-customers-page-1.png").write_bytes(data)
    assert data.startswith(b"\x89PNG")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > height  # landscape


def test_narrow_list_prints_portrait_at_full_size():
    columns = [Column("id", "Id", "number"), Column("name", "Name"),
               Column("phone", "Phone")]
    rows = [{"id": i, "name": f"Ava Thomas {i}", "phone": "+86 138 0013 8000"}
            for i in range(30)]
    reader = PdfReader(io.BytesIO(render(columns, rows)))
    box = reader.pages[0].mediabox
    assert float(box.width) < float(box.height)
    assert len(reader.pages) == 1


def test_font_steps_down_before_wrapping_then_wraps_only_at_spaces(tmp_path):
    wide = [Column(f"c{i}", f"Column {i}") for i in range(8)]
    note = "a long remark about the customer's last visit to the workshop"
    measure = [Measure() for _ in wide]
    heads = [Measure() for _ in wide]
    for m, h, c in zip(measure, heads, wide, strict=True):
        m.add(note, False)
        h.add(str(c.label), False)
    layout = choose_layout(measure, heads)
    assert layout.landscape and layout.wrap and not layout.break_anywhere
    assert layout.font_pt == 7.0  # the smallest no-wrap size did not fit: wrap at 7 pt
    pdf = render(wide, [{c.key: note for c in wide}] * 3, title="Remarks")
    text = "\n".join(layout_text(pdf, tmp_path))
    for word in note.split():  # wrapped at spaces: every word whole
        assert re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", text), word


def test_a_word_wider_than_the_page_may_break_anywhere_as_a_last_resort():
    measure, head = Measure(), Measure()
    measure.add("x" * 400, False)
    head.add("Notes", False)
    layout = choose_layout([measure], [head])
    assert layout.break_anywhere and layout.landscape
    assert sum(layout.widths) <= 842  # still on the page
    pdf = render([Column("notes", "Notes")], [{"notes": "x" * 400}], title="Notes")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_phones_and_hyphenated_codes_are_kept_together():
    html = cell_html("Call +86 138 0013 8000 or 021-5555-0100 <b>", False)
    assert '<span class="nw">+86 138 0013 8000</span>' in html
    assert '<span class="nw">021-5555-0100</span>' in html
    assert "&lt;b&gt;" in html
