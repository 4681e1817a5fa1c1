"""Speed of a long list printed to PDF by the export plugin (target: 100 pages < 15 s).

Run: ``.venv/bin/python benchmarks/pdf_list_bench.py [--rows 3300]`` (3,300 rows of six
columns with Chinese text; the layout chooses orientation and font size from the content, so
the page count is printed, counted with pypdf from the test dependencies). Prints wall and
CPU seconds (CPU time is the figure to compare on a shared machine), the orientation and the
load average."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import time
from decimal import Decimal

from carebiz.export.table import Column, Table
from carebiz_plugins.export.formats.pdf import write_pdf

COLUMNS = [Column("id", "编号", "number"), Column("name", "客户名称"), Column("phone", "电话"),
           Column("city", "城市"), Column("ltv", "客户终身价值", "money", currency="CNY"),
           Column("since", "登记日期", "date")]


def rows(count: int):  # noqa: ANN201 - a generator of row mappings
    for i in range(count):
        yield {"id": i, "name": f"王伟 Wang Wei {i}", "phone": "+8613800138000",
               "city": "上海市浦东新区", "ltv": Decimal("12345.67"), "since": dt.date(2024, 5, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=3300)
    args = parser.parse_args()
    out = io.BytesIO()
    start, cpu = time.perf_counter(), time.process_time()
    write_pdf(Table("客户 Customers", COLUMNS, rows(args.rows), locale="zh_CN"), out)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    try:  # pypdf comes with the test dependencies
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(out.getvalue()))
        pages: object = len(reader.pages)
        box = reader.pages[0].mediabox
        orientation = "landscape" if float(box.width) > float(box.height) else "portrait"
    except ImportError:
        pages, orientation = "?", "?"
    print(f"{args.rows} rows -> {pages} A4 {orientation} pages in {seconds:.2f} s wall, "
          f"{cpu:.2f} s CPU ({len(out.getvalue()) / 1024:.0f} KiB; load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
