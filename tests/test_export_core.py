"""The core export interface and its CSV writer."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

from carebiz.export.csv_format import write_csv
from carebiz.export.table import Column, Table


def test_csv_streams_typed_values_with_bom_filters_and_inert_formulas():
    table = Table("Customers", [Column("name", "Name"), Column("ltv", "Value", "money",
                                                              currency="CNY"),
                                Column("since", "Since", "date"), Column("vip", "VIP", "bool")],
                  iter([{"name": "王伟", "ltv": Decimal("1234.50"), "since": dt.date(2024, 5, 1),
                         "vip": True},
                        {"name": "=HYPERLINK(1)", "ltv": None, "since": None, "vip": False}]),
                  filters=["Branch: A"])
    out = io.BytesIO()
    assert write_csv(table, out) == 2
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [["Branch: A"], ["Name", "Value", "Since", "VIP"],
                    ["王伟", "1234.50", "2024-05-01", "yes"], ["'=HYPERLINK(1)", "", "", "no"]]


def test_core_registers_csv(app):
    with app.test_request_context():
        names = [f.name for f in app.extensions["carebiz"].host.collect("export_formats")]
    assert names == ["csv"]
