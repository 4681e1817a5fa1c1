"""Speed and memory of the export plugin's xlsx writer. Run with
``.venv/bin/python benchmarks/export_bench.py`` (``--rows`` 100,000, ``--memory-rows``
100000,1000000).

Target (the export issue): 100,000 rows x 10 columns to xlsx at no less than 70% of the
throughput of writing the same rows directly with xlsxwriter (constant-memory mode, the same
typed calls and formats), and memory flat as rows grow: 1,000,000 rows below 300 MB peak RSS.

Each memory figure comes from a fresh subprocess (``VmHWM`` from ``/proc/self/status``, else
``ru_maxrss``), so one size's peak does not hide another's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

NAMES = ["王伟", "李娜", "张敏", "刘洋", "Alice Chen", "陈静", "杨磊", "Bob Li"]
CITIES = ["北京", "上海", "广州", "深圳", "Chengdu"]
BASE_DAY = dt.date(2024, 1, 1)
BASE_TIME = dt.datetime(2024, 1, 1, 8, 0)


def rows(n: int) -> Iterator[tuple]:
    """n rows of 10 typed values: text, text, int, float, money CNY, money, date, datetime,
    bool, text (cheap to make, so the writers dominate the time)."""
    for i in range(n):
        yield (NAMES[i % 8], CITIES[i % 5], i, i * 0.5, Decimal(i % 100000) / 100,
               float(i % 5000), BASE_DAY + dt.timedelta(days=i % 700),
               BASE_TIME + dt.timedelta(minutes=i % 100000), i % 3 == 0, f"VIN{i:014d}")


def table(n: int):
    from carebiz.export.table import Column, Table

    cols = [Column("name", "姓名"), Column("city", "城市"), Column("n", "No.", "number"),
            Column("score", "Score", "number"),
            Column("ltv", "Value", "money", currency="CNY"),
            Column("price", "Price", "money", currency="CNY"),
            Column("since", "Since", "date"), Column("seen", "Seen", "datetime"),
            Column("vip", "VIP", "bool"), Column("vin", "VIN")]
    return Table("Benchmark", cols, rows(n), filters=["All branches"], locale="zh_CN")


def plugin_xlsx(n: int, path: str) -> int:
    from carebiz_plugins.export.formats.xlsx import write_xlsx

    with open(path, "wb") as out:
        return write_xlsx(table(n), out)


def raw_xlsx(n: int, path: str) -> int:
    """The same rows, formats and header through xlsxwriter directly (the fastest typed
    calls, no width estimate)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(path, {"constant_memory": True, "in_memory": False})
    ws = wb.add_worksheet("Benchmark")
    head = wb.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1})
    money = wb.add_format({"num_format": '"¥"#,##0.00;-"¥"#,##0.00'})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.write_string(0, 0, "All branches")
    for i, label in enumerate(["姓名", "城市", "No.", "Score", "Value", "Price", "Since",
                               "Seen", "VIP", "VIN"]):
        ws.write_string(1, i, label, head)
    ws.freeze_panes(2, 0)
    ws_s, ws_n, ws_d, ws_b = ws.write_string, ws.write_number, ws.write_datetime, ws.write_boolean
    r = 1
    for row in rows(n):
        r += 1
        ws_s(r, 0, row[0])
        ws_s(r, 1, row[1])
        ws_n(r, 2, row[2])
        ws_n(r, 3, row[3])
        ws_n(r, 4, row[4], money)
        ws_n(r, 5, row[5], money)
        ws_d(r, 6, row[6], date)
        ws_d(r, 7, row[7], stamp)
        ws_b(r, 8, row[8])
        ws_s(r, 9, row[9])
    ws.autofilter(1, 0, r, 9)
    wb.close()
    return n


def peak_rss_mb() -> float:
    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, n: int) -> None:
    """Run one export in this (fresh) process and print ``rows seconds peak_mb size_mb``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.xlsx")
        import xlsxwriter  # noqa: F401  (imports are not part of the timing)

        import carebiz_plugins.export.formats.xlsx  # noqa: F401
        start = time.perf_counter()
        count = (plugin_xlsx if kind == "plugin" else raw_xlsx)(n, path)
        seconds = time.perf_counter() - start
        size = os.path.getsize(path) / 1e6
    print(count, seconds, peak_rss_mb(), size)


def run_child(kind: str, n: int) -> tuple[int, float, float, float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(n)], check=True,
                         capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-rows", default="100000,1000000")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return

    n = args.rows
    best: dict[str, float] = {}
    for _ in range(args.repeat):  # interleaved, best of N: less noise from the machine
        for kind in ("raw", "plugin"):
            _count, seconds, _peak, _size = run_child(kind, n)
            best[kind] = min(best.get(kind, seconds), seconds)
    raw, plugin = n / best["raw"], n / best["plugin"]
    print(f"xlsx {n:,} rows x 10 columns (best of {args.repeat})")
    print(f"  raw xlsxwriter constant_memory  {raw:12,.0f} rows/s   {best['raw']:.2f} s")
    print(f"  export plugin write_xlsx        {plugin:12,.0f} rows/s   {best['plugin']:.2f} s")
    print(f"  plugin / raw                    {plugin / raw:12.1%}   (target >= 70%)")
    print("peak RSS of the plugin's xlsx writer (fresh process per size)")
    for size in (int(s) for s in args.memory_rows.split(",") if s):
        count, seconds, peak, mb = run_child("plugin", size)
        print(f"  {count:>10,} rows   peak {peak:7.1f} MB   {seconds:7.1f} s   "
              f"file {mb:6.1f} MB   (target < 300 MB)")


if __name__ == "__main__":
    main()
