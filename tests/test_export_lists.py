"""Every list, analysis and report offers the one Export control: the exported file is the
list as the user sees it (row filters applied) with its filters in the header."""

from __future__ import annotations

import io

import openpyxl
import pytest

from tests.conftest import PASSWORD, login, token_for
from tests.crm_helpers import valid_vin


def _csv(resp) -> str:
    assert resp.status_code == 200, resp.data[:500]
    assert resp.mimetype == "text/csv"
    return resp.get_data().decode("utf-8-sig")


def _xlsx(resp) -> list[str]:
    assert resp.status_code == 200, resp.data[:500]
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    ws = openpyxl.load_workbook(io.BytesIO(resp.data)).active
    return [str(cell) for row in ws.iter_rows(values_only=True) for cell in row
            if cell is not None]


def _client(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.fixture
def cars(app, seeded):
    from carebiz.crm.services.parties import create_party
    from carebiz.crm.services.vehicles import create_vehicle

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        owner = create_party(sess, {"name": "王伟", "branch_id": seeded["branches"]["A"]})
        create_vehicle(sess, {"vin": valid_vin(10), "make": "BYD", "model": "Han",
                              "fuel_type": "bev", "owner_id": owner.id,
                              "branch_id": seeded["branches"]["A"]})
        create_vehicle(sess, {"vin": valid_vin(20), "make": "Toyota", "model": "Camry",
                              "branch_id": seeded["branches"]["A"]})
        create_vehicle(sess, {"vin": valid_vin(30), "make": "BYD", "model": "Tang",
                              "branch_id": seeded["branches"]["B"]})
        sess.commit()
    return [valid_vin(10), valid_vin(20), valid_vin(30)]


def test_vehicles_export_csv_and_xlsx_with_filters_and_row_filters(app, cars):
    client = _client(app, "sales")
    page = client.get("/vehicles?make=BYD")
    assert b'data-testid="export-control"' in page.data
    assert b"/export/crm.vehicles?format=csv&amp;make=BYD" in page.data
    text = _csv(client.get("/export/crm.vehicles?format=csv&make=BYD"))
    lines = text.splitlines()
    assert lines[0] == "make: BYD"
    assert cars[0] in text and "王伟" in text
    assert cars[1] not in text  # filtered out
    assert cars[2] not in text  # branch B: not the salesperson's
    cells = _xlsx(client.get("/vehicles?format=xlsx&make=BYD"))
    assert "make: BYD" in cells and cars[0] in cells and cars[2] not in cells
    manager = _csv(_client(app, "manager").get("/export/crm.vehicles?format=csv&make=BYD"))
    assert cars[0] in manager and cars[2] in manager


def test_vehicles_api_answers_format_and_accept(app, cars):
    headers = {"Authorization": "Bearer " + token_for(app, "sales")}
    api = app.test_client()
    text = _csv(api.get("/api/v1/vehicles", headers={**headers, "Accept": "text/csv"}))
    assert cars[0] in text and cars[1] in text and cars[2] not in text
    text = _csv(api.get("/api/v1/vehicles?make=toy&format=csv", headers=headers))
    assert text.splitlines()[0] == "make: toy" and cars[1] in text and cars[0] not in text
    cells = _xlsx(api.get("/api/v1/vehicles", headers={
        **headers, "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}))
    assert cars[0] in cells and cars[2] not in cells
    for accept in ("application/json", "*/*", "text/html,*/*;q=0.8", "text/csv;q=0.5, "
                   "application/json"):
        plain = api.get("/api/v1/vehicles", headers={**headers, "Accept": accept})
        assert plain.status_code == 200 and plain.mimetype == "application/json", accept
    assert api.get("/api/v1/vehicles", headers={"Accept": "text/csv"}).status_code == 401
    page = _client(app, "sales").get("/vehicles", headers={"Accept": "text/csv"})
    assert page.mimetype == "text/html"  # pages answer files only when asked by format=


def test_users_and_branches_export(app, seeded):
    admin = _client(app, "admin")
    page = admin.get("/admin/users?role=salesperson")
    assert b'data-testid="export-control"' in page.data
    text = _csv(admin.get("/export/admin.users?format=csv&role=salesperson"))
    assert text.splitlines()[0] == "role: salesperson"
    assert "sales" in text and "manager" not in text
    cells = _xlsx(admin.get("/admin/users?format=xlsx&q=view"))
    assert "Search: view" in cells and "viewer" in cells and "admin" not in cells
    assert b'data-testid="export-control"' in admin.get("/admin/branches").data
    text = _csv(admin.get("/export/admin.branches?format=csv&q=Branch B"))
    assert text.splitlines()[0] == "Search: Branch B"
    assert "Branch B" in text and "Branch A" not in text
    cells = _xlsx(admin.get("/admin/branches?format=xlsx&status=active"))
    assert "status: active" in cells and "Branch A" in cells and "Branch B" in cells
    manager = _client(app, "manager")  # no admin.users / admin.branches
    assert manager.get("/export/admin.users?format=csv").status_code == 403
    assert manager.get("/admin/users?format=csv").status_code == 403
    assert manager.get("/export/admin.branches?format=xlsx").status_code == 403


def test_audit_export_respects_row_filters(app, seeded):
    from carebiz.models import AuditEntry
    from carebiz.services.users import create_user

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        for code in ("A", "B"):
            sess.add(AuditEntry(actor_name="admin", event="test.changed", entity_type="thing",
                                entity_id=f"in-{code}", branch_id=seeded["branches"][code],
                                before={"x": 1}, after={"x": 2}))
        create_user(sess, "auditor", PASSWORD, roles=["manager"], branches=["A"])
        sess.commit()
    auditor = _client(app, "auditor")
    assert b'data-testid="export-control"' in auditor.get("/admin/audit?entity_type=thing").data
    text = _csv(auditor.get("/export/admin.audit?format=csv&entity_type=thing"))
    assert text.splitlines()[0] == "entity_type: thing"
    assert "in-A" in text and "in-B" not in text and "x: 1 → 2" in text
    cells = _xlsx(auditor.get("/admin/audit?format=xlsx&entity_type=thing"))
    assert "entity_type: thing" in cells and "in-A" in cells and "in-B" not in cells
    everything = _csv(_client(app, "manager").get("/export/admin.audit?format=csv"
                                                  "&entity_type=thing"))
    assert "in-A" in everything and "in-B" in everything
    sales = _client(app, "sales")  # no audit.view
    assert sales.get("/export/admin.audit?format=csv").status_code == 403
    assert sales.get("/admin/audit?format=csv").status_code == 403


@pytest.fixture
def customers(app, seeded):
    from carebiz.crm.services.parties import create_party

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        for name, kind, branch in (("王伟", "person", "A"), ("王氏车队", "organization", "A"),
                                   ("李娜", "person", "A"), ("Other", "person", "B")):
            create_party(sess, {"name": name, "kind": kind,
                                "branch_id": seeded["branches"][branch]},
                         allow_duplicates=True)
        sess.commit()


def test_analysis_export(app, customers):
    client = _client(app, "sales")
    args = "source=customers&f=name&o=starts_with&v=王&g1=kind&m=count"
    page = client.get("/query/customers?" + args.split("&", 1)[1])
    assert page.status_code == 200
    assert b"/export/query.analysis?format=csv" in page.data
    assert b"Download chart (SVG)" in page.data and b"Download table (CSV)" not in page.data
    text = _csv(client.get("/export/query.analysis?format=csv&" + args))
    lines = text.splitlines()
    assert lines[0] == "Name starts with 王"  # the condition as a sentence, not codes
    counts = {line.split(",")[0]: line.split(",")[1] for line in lines[2:]}
    assert sorted(counts.values()) == ["1", "1"]  # 王伟 and 王氏车队, not branch B's
    cells = _xlsx(client.get("/export/query.analysis?format=xlsx&source=customers&g1=kind"))
    assert len(cells) > 3  # sales sees 3 customers, 2 kinds
    no_groups = client.get("/export/query.analysis?format=csv&source=customers")
    assert no_groups.status_code == 422


def test_report_export_with_parameters_in_header(app, customers):
    client = _client(app, "sales")
    name = "crm.new_customers_by_month"
    page = client.get(f"/query/reports/{name}?days=60")
    assert b"/export/query.report?format=csv&amp;days=60&amp;report=" in page.data
    assert b"Download chart (SVG)" in page.data
    text = _csv(client.get(f"/export/query.report?format=csv&report={name}&days=60"))
    lines = text.splitlines()
    assert lines[0] == "Days back: 60"
    assert sum(int(line.rsplit(",", 1)[1]) for line in lines[2:]) == 3  # not branch B's
    cells = _xlsx(client.get(f"/export/query.report?format=xlsx&report={name}"))
    assert "Days back: 365" in cells
    bad = client.get(f"/export/query.report?format=csv&report={name}&days=abc")
    assert bad.status_code == 422
    from carebiz.services.users import create_user

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        create_user(sess, "nobody", PASSWORD, branches=["A"])  # no role: no customers source
        sess.commit()
    nobody = _client(app, "nobody")
    assert nobody.get(f"/export/query.report?format=csv&report={name}").status_code == 403
    assert nobody.get("/export/query.analysis?format=csv&source=customers&g1=kind"
                      ).status_code == 403
    assert nobody.get("/export/crm.vehicles?format=csv").status_code == 403
    assert client.get("/export/query.report?format=csv&report=nope").status_code == 404


def test_long_pdf_list_runs_as_a_job_and_a_short_one_at_once(app, seeded, monkeypatch):
    """PDF lays out ~0.2-0.5 s a page: above the format's own row limit (150 rows, far below
    the 20,000 of the other formats) the list is printed by a job whose page shows progress,
    so no request hangs; a short list is answered at once."""
    from carebiz.crm.services.parties import create_party
    from carebiz.export import service
    from carebiz_plugins.export.formats import pdf

    monkeypatch.setattr(pdf, "SYNC_ROWS", 2)  # read when the app first collects the formats
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        for i in range(3):
            create_party(sess, {"name": f"客户{i}", "branch_id": seeded["branches"]["A"],
                                "phones": [f"+8613800138{i:03d}"]},
                         allow_duplicates=True)
        sess.commit()
    client = _client(app, "sales")
    with app.test_request_context():
        formats = service.formats(ext.host)
    assert formats["pdf"].sync_rows == 2 and formats["csv"].sync_rows is None
    short = client.get("/export/crm.customers?format=pdf&q=客户1")
    assert short.status_code == 200 and short.mimetype == "application/pdf"
    long = client.get("/export/crm.customers?format=pdf")
    assert long.status_code == 302 and "/jobs/" in long.headers["Location"]
    page = client.get(long.headers["Location"])
    assert b'data-testid="export-download"' in page.data  # inline jobs finish at once
    assert b'http-equiv="refresh"' not in page.data  # done: nothing to poll
    job_id = long.headers["Location"].rsplit("/", 1)[1]
    download = client.get(f"/export/download/{job_id}")
    assert download.status_code == 200 and download.data.startswith(b"%PDF")
    assert client.get("/export/crm.customers?format=csv").mimetype == "text/csv"  # 3 < 20,000


def test_unfinished_job_page_polls_and_refreshes_without_script(app, seeded):
    from carebiz.models import User
    from carebiz.models.job import Job

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        user = sess.query(User).filter_by(username="sales").one()
        sess.add(Job(id="a" * 32, task="core.export", params={}, status="running",
                     progress=40, created_by=user.id))
        sess.commit()
    page = _client(app, "sales").get("/jobs/" + "a" * 32)
    assert page.status_code == 200
    assert b'<noscript><meta http-equiv="refresh" content="2"></noscript>' in page.data
    assert b"data-job-poll=" in page.data and b"40 %" in page.data
