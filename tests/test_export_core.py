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


def test_core_registers_csv(make_app):
    app = make_app(CAREBIZ_PLUGINS="none")  # the core alone; the export plugin adds more
    with app.test_request_context():
        names = [f.name for f in app.extensions["carebiz"].host.collect("export_formats")]
    assert names == ["csv"]


def test_large_export_runs_as_a_job_with_a_download(app, seeded, monkeypatch):
    from carebiz.crm.services.parties import create_party
    from carebiz.export import service
    from tests.conftest import login

    monkeypatch.setattr(service, "SYNC_ROWS", 2)
    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        for i in range(3):
            create_party(sess, {"name": f"客户{i}", "branch_id": seeded["branches"]["A"]},
                         allow_duplicates=True)
        sess.commit()
    client = app.test_client()
    login(client, "sales")
    resp = client.get("/export/crm.customers?format=csv&kind=person")
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    page = client.get(resp.headers["Location"])
    assert b'data-testid="export-download"' in page.data  # inline jobs finish at once
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    download = client.get(f"/export/download/{job_id}")
    assert download.status_code == 200
    text = download.get_data().decode("utf-8-sig")
    assert "kind: person" in text and "客户2" in text
    other = app.test_client()
    login(other, "manager")
    assert other.get(f"/export/download/{job_id}").status_code == 404  # not theirs


def test_list_endpoints_answer_format(app, seeded):
    from carebiz.crm.services.parties import create_party
    from tests.conftest import login, token_for

    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        create_party(sess, {"name": "王伟", "branch_id": seeded["branches"]["A"]})
        create_party(sess, {"name": "Other", "branch_id": seeded["branches"]["B"]})
        sess.commit()
    headers = {"Authorization": "Bearer " + token_for(app, "sales")}
    resp = app.test_client().get("/api/v1/customers?format=csv", headers=headers)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert 'filename="customers-' in resp.headers["Content-Disposition"]
    lines = resp.get_data().decode("utf-8-sig").splitlines()
    assert len(lines) == 2 and "王伟" in lines[1]  # row filters: branch B is not there
    assert app.test_client().get("/api/v1/customers?format=csv").status_code == 401
    bad = app.test_client().get("/api/v1/customers?format=exe", headers=headers)
    assert bad.status_code == 422 and "format" in bad.get_json()["errors"]
    client = app.test_client()
    login(client, "sales")
    page = client.get("/customers?format=csv")
    assert page.status_code == 200 and "王伟" in page.get_data().decode("utf-8-sig")


def test_query_results_export_keeps_every_condition(app, seeded):
    from carebiz.crm.services.parties import create_party
    from tests.conftest import login

    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        for name, kind in (("王伟", "person"), ("王氏车队", "organization"), ("李娜", "person")):
            create_party(sess, {"name": name, "kind": kind,
                                "branch_id": seeded["branches"]["A"]}, allow_duplicates=True)
        sess.commit()
    client = app.test_client()
    login(client, "sales")
    page = client.get("/query/customers?f=name&o=starts_with&v=王&f=kind&o=eq&v=person")
    assert page.status_code == 200 and b'data-testid="export-control"' in page.data
    assert b"f=name&amp;f=kind" in page.data or b"f=name&amp;o=" in page.data
    resp = client.get("/export/query.results?format=csv&source=customers"
                      "&f=name&o=starts_with&v=王&f=kind&o=eq&v=person")
    assert resp.status_code == 200, resp.data
    text = resp.get_data().decode("utf-8-sig")
    assert "王伟" in text and "王氏车队" not in text and "李娜" not in text
    bad = client.get("/export/query.results?format=csv&source=customers&f=name&o=between&v=x")
    assert bad.status_code == 422
