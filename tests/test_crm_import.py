"""Importing customers and vehicles from CSV and Excel: reading files (encodings, delimiters,
xlsx numbers and dates), headers in English and Chinese, the dry-run report with every bad
row, all-or-nothing and only-valid imports, duplicates in the file and against the database,
the background job through the page and the API, and the permission."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from carebiz.crm import importing as importer
from carebiz.crm import signals
from carebiz.crm.importing import Options, TooLarge, UnreadableFile, limits
from carebiz.crm.models import CustomField, Party, PartyPhone, Vehicle, VehicleOwnership
from carebiz.crm.services import parties
from carebiz.errors import ValidationFailed
from carebiz.models import AuditEntry, Job, User
from tests.conftest import login, token_for

DATA = Path(__file__).parent / "data" / "import"


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def env(app: Any, seeded: dict[str, Any]) -> Any:
    """A session in an app context and the acting manager (all branches)."""
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        user = sess.scalar(select(User).where(User.username == "manager"))
        sess.info["actor"] = user
        yield sess, user
        sess.close()


def table(name: str) -> importer.Table:
    return importer.read_table((DATA / name).read_bytes(), name)


def csv_table(text: str, encoding: str = "utf-8") -> importer.Table:
    return importer.read_table(text.encode(encoding), "upload.csv")


def run(sess: Any, user: Any, tbl: importer.Table, dry_run: bool = False,
        **options: Any) -> importer.Report:
    report = importer.import_table(sess, tbl, Options(**options), user=user, dry_run=dry_run)
    sess.commit()
    return report


def count(app: Any, model: type) -> int:
    """Counted in a fresh session, so only what was really committed is seen."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return sess.scalar(select(func.count()).select_from(model))


def party_by_phone(sess: Any, e164: str) -> Party:
    return sess.scalar(select(Party).join(PartyPhone).where(PartyPhone.e164 == e164))


def errors_of(report: importer.Report) -> set[tuple[int, str]]:
    return {(e["row"], e["column"]) for e in report.errors}


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client: Any, url: str, name: str, data: bytes, headers: Any = None,
           **fields: Any) -> Any:
    form = {"file": (io.BytesIO(data), name), **fields}
    return client.post(url, data=form, headers=headers or {},
                       content_type="multipart/form-data")


def bearer(app: Any, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, username)}"}


def stored_uploads(app: Any) -> list[str]:
    folder = Path(app.instance_path) / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- reading files -------------------------------------------------------------------------


def test_reads_utf8_csv_with_bom_and_keeps_excel_row_numbers():
    tbl = table("customers_utf8.csv")
    assert tbl.headers[:3] == ["name", "phone", "email"]  # the BOM is not part of "name"
    assert [n for n, _cells in tbl.rows] == [2, 3, 4, 5]
    assert tbl.rows[1][1][1] == "021-62345678; 13912345678"


def test_reads_gb18030_csv_as_chinese_excel_saves_it():
    tbl = table("customers_gb18030.csv")
    assert tbl.headers[:3] == ["姓名", "手机", "类型"]
    assert tbl.rows[1][1][0] == "北京某某汽车服务有限公司"


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_sniffs_the_delimiter(delimiter):
    text = delimiter.join(["name", "phone", "notes"]) + "\n" + delimiter.join(
        ["Wang", "13800138000", "a, b"]) + "\n"
    if delimiter == ",":
        text = text.replace("a, b", '"a, b"')
    tbl = csv_table(text)
    assert tbl.headers == ["name", "phone", "notes"]
    assert tbl.rows == [(2, ["Wang", "13800138000", "a, b"])]


def test_blank_lines_are_skipped_but_counted():
    tbl = csv_table("\nname,phone\nA,13800138000\n\n,\nB,13800138001\n")
    assert [n for n, _c in tbl.rows] == [3, 6]


def test_reads_xlsx_numbers_and_dates():
    data = xlsx_bytes([
        ["name", "phone", "birthday", "year", "postal_code"],
        ["Wang", 13800138000, dt.date(1985, 3, 12), 2021, 200001],
        [None, None, None, None, None],
        ["Li", 13800138001.0, dt.datetime(1990, 1, 2, 0, 0), 2019.0, "200002"],
    ])
    tbl = importer.read_table(data, "Customers.XLSX")
    assert tbl.headers == ["name", "phone", "birthday", "year", "postal_code"]
    assert tbl.rows == [(2, ["Wang", "13800138000", "1985-03-12", "2021", "200001"]),
                        (4, ["Li", "13800138001", "1990-01-02", "2019", "200002"])]


@pytest.mark.parametrize(("name", "data", "words"), [
    ("customers.xls", b"\xd0\xcf\x11\xe0", "Save it as an Excel workbook (.xlsx)"),
    ("customers.pdf", b"%PDF-1.4", "not a CSV or Excel"),
    ("customers", b"name\nA\n", "not a CSV or Excel"),
    ("customers.csv", xlsx_bytes([["name"], ["A"]]), "Excel workbook, not CSV"),
    ("customers.xlsx", b"name,phone\nA,1\n", "cannot be read as an Excel workbook"),
    ("customers.csv", b"", "The file is empty"),
    ("customers.csv", b"name,phone\n", "no rows of customers"),
    ("customers.csv", b"\xff\xfe\xff\xff\xff", "encoding is not recognised"),
])
def test_refuses_what_it_cannot_read(name, data, words):
    with pytest.raises(UnreadableFile, match=re.escape(words)) as caught:
        importer.read_table(data, name)
    assert caught.value.status == 422 and "file" in caught.value.errors


def test_a_sample_reads_only_the_first_rows():
    tbl = csv_table("name\na\nb\nc\n")
    assert len(tbl.rows) == 3
    assert importer.read_table(b"name\na\nb\nc\n", "x.csv", sample=1).rows == [(2, ["a"])]


def test_limits_bytes_and_rows(monkeypatch):
    monkeypatch.setattr(limits, "MAX_BYTES", 30)
    with pytest.raises(TooLarge, match="larger than"):
        importer.read_table(b"name\n" + b"a\n" * 20, "big.csv")
    monkeypatch.setattr(limits, "MAX_BYTES", 20 * 1024 * 1024)
    monkeypatch.setattr(limits, "MAX_ROWS", 3)
    importer.read_table(b"name\na\nb\nc\n", "ok.csv")
    with pytest.raises(TooLarge, match="more than 3 rows") as caught:
        importer.read_table(b"name\na\nb\nc\nd\n", "big.csv")
    assert caught.value.status == 413


# --- columns -------------------------------------------------------------------------------


def test_headers_aliases_custom_fields_and_unknown_columns(env):
    from carebiz.crm.services import custom_fields

    sess, _user = env
    custom_fields.define(sess, "party", "wechat", "微信号", "text")
    custom_fields.define(sess, "vehicle", "warranty_until", "Warranty until", "date")
    cmap = importer.map_columns(sess, [
        "客户名称", "Mobile", "E-Mail", "车架号", "License Plate", "微信号",
        "vehicle.custom.warranty_until", "Favourite colour", "custom.nope", "手机号", "姓名"])
    fields = {c.header: (c.entity, c.key) for c in cmap.columns}
    assert fields == {
        "客户名称": ("party", "name"), "Mobile": ("party", "phones"),
        "E-Mail": ("party", "emails"), "车架号": ("vehicle", "vin"),
        "License Plate": ("vehicle", "plate"), "微信号": ("party", "custom.wechat"),
        "vehicle.custom.warranty_until": ("vehicle", "custom.warranty_until"),
        "手机号": ("party", "phones")}  # two phone columns add up
    warned = {w["column"]: w["reason"] for w in cmap.warnings}
    assert set(warned) == {"Favourite colour", "custom.nope", "姓名"}
    assert "Unknown column" in warned["Favourite colour"]
    assert "No custom field named nope" in warned["custom.nope"]
    assert "客户名称" in warned["姓名"]  # a second name column is not silently preferred


def test_a_file_without_known_columns_is_unreadable(env):
    sess, user = env
    with pytest.raises(UnreadableFile, match="None of the columns"):
        importer.import_table(sess, csv_table("foo,bar\n1,2\n"), user=user)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_template_headers_map_back_to_every_field(env, language):
    sess, _user = env
    headers = importer.template_headers(sess, language)
    assert ("姓名" in headers) == (language == "zh_CN")
    cmap = importer.map_columns(sess, headers)
    assert cmap.warnings == []
    assert len(cmap.columns) == len(importer.FIELDS)


# --- the dry run and the import ------------------------------------------------------------


def test_dry_run_reports_every_bad_row_with_its_column_and_writes_nothing(app, env):
    sess, user = env
    audit_before = count(app, AuditEntry)
    report = run(sess, user, table("bad_rows.csv"), dry_run=True)
    assert not report.valid and report.rows == 6
    assert errors_of(report) == {(3, "phone"), (4, "vin"), (5, "branch"), (6, "name")}
    reasons = {e["row"]: e["reason"] for e in report.errors}
    assert "not a valid phone number" in reasons[3]
    assert "check digit" in reasons[4]
    assert "ZZ" in reasons[5]
    assert reasons[6] == "Required."
    assert report.counts["create"] == 2 and report.counts["vehicles"] == 2
    assert report.counts["invalid"] == 4
    assert not report.committed
    assert count(app, Party) == 0 and count(app, Vehicle) == 0
    assert count(app, AuditEntry) == audit_before


def test_all_or_nothing_import_writes_nothing_when_a_row_is_bad(app, env):
    sess, user = env
    report = run(sess, user, table("bad_rows.csv"))
    assert not report.committed and len(report.errors) == 4
    assert count(app, Party) == 0 and count(app, Vehicle) == 0
    assert "4 of 6 rows are not valid" in importer.failure_message(report)


def test_the_caller_still_decides_whether_the_import_is_committed(app, env):
    """On SQLite a SAVEPOINT that opens the transaction commits when it is released; the
    importer must leave the commit (here: a rollback) to its caller all the same."""
    sess, user = env
    report = importer.import_table(sess, table("customers_utf8.csv"), user=user, dry_run=False)
    assert report.committed
    sess.rollback()
    assert count(app, Party) == 0 and count(app, Vehicle) == 0


def test_only_valid_imports_the_good_rows_with_audit_and_events(app, env):
    sess, user = env
    created: list[int] = []

    def receiver(_sender: Any, **payload: Any) -> None:
        created.append(payload["party_id"])

    signals.customer_created.connect(receiver, weak=False)
    try:
        report = run(sess, user, table("bad_rows.csv"), only_valid=True)
    finally:
        signals.customer_created.disconnect(receiver)
    assert report.committed and report.counts["create"] == 2
    names = sorted(sess.scalars(select(Party.name)))
    assert names == ["Good One", "Good Two"]
    assert count(app, Vehicle) == 2
    # the customer of the bad-VIN row was created, then rolled back with its savepoint:
    # its event must not be announced
    assert sorted(created) == sorted(sess.scalars(select(Party.id)))
    audit = sess.scalars(select(AuditEntry).where(AuditEntry.entity_type == "party")).all()
    assert len(audit) == 2 and {a.actor_name for a in audit} == {"manager"}


def test_imports_the_utf8_sample_with_a_repeated_customer(app, env, seeded):
    sess, user = env
    report = run(sess, user, table("customers_utf8.csv"))
    assert report.valid and report.committed, report.errors
    assert report.counts == {"create": 3, "attach": 0, "skip": 0, "same_in_file": 1,
                             "vehicles": 3, "vehicles_unchanged": 0, "invalid": 0}
    wang = party_by_phone(sess, "+8613800138000")
    assert wang.name == "Wang Wei" and wang.gender == "male"
    assert wang.birthday == dt.date(1985, 3, 12) and wang.tags == ["VIP"]
    owned = sorted(sess.scalars(select(Vehicle.vin).where(Vehicle.owner_id == wang.id)))
    assert owned == ["LGBH52E08MY123456", "LSVAU218XN2183294"]
    acme = party_by_phone(sess, "+8613912345678")
    assert acme.kind == "organization" and acme.roles == ["customer", "fleet"]
    assert acme.phone_numbers == ["+862162345678", "+8613912345678"]
    assert acme.branch_id == seeded["branches"]["B"]
    car = sess.scalar(select(Vehicle).where(Vehicle.vin == "LFV2A21K9A4012345"))
    assert (car.plate, car.fuel_type, car.year, car.branch_id) == (
        "沪AD12345", "bev", 2021, seeded["branches"]["B"])
    assert sess.scalar(select(func.count()).select_from(VehicleOwnership)) == 3
    li = party_by_phone(sess, "+8613712345678")
    assert li.roles == ["prospect"] and li.gender == "female"


def test_imports_the_gb18030_sample_with_chinese_headers_and_words(env):
    sess, user = env
    report = run(sess, user, table("customers_gb18030.csv"))
    assert report.valid and report.committed, report.errors
    zhang = party_by_phone(sess, "+8613600136000")
    assert (zhang.name, zhang.kind, zhang.gender, zhang.birthday, zhang.notes) == (
        "张伟", "person", "male", dt.date(1990, 5, 6), "老客户")
    car = sess.scalar(select(Vehicle).where(Vehicle.owner_id == zhang.id))
    assert (car.vin, car.plate, car.make, car.fuel_type, car.year) == (
        "1HGCM82633A004352", "粤B12345", "本田", "petrol", 2020)
    company = party_by_phone(sess, "+861065880000")
    assert company.kind == "organization"
    van = sess.scalar(select(Vehicle).where(Vehicle.owner_id == company.id))
    assert (van.year, van.fuel_type) == (2019, "hybrid")
    liu = party_by_phone(sess, "+8613500135000")
    assert liu.phone_numbers == ["+8613500135000", "+8613600136001"]
    assert liu.birthday == dt.date(1988, 7, 1) and liu.gender == "female"


def test_imports_an_xlsx_with_numbers_for_phones(env, seeded):
    sess, user = env
    data = xlsx_bytes([
        ["姓名", "手机", "生日", "门店", "车架号", "年份", "证件号码"],
        ["赵敏", 13800138000, dt.date(1985, 3, 12), "a", "LSVAU218XN2183294", 2022,
         "11010519491231002X"],
        ["赵敏", 13800138000.0, None, "A", "LFV2A21K9A4012345", 2021.0, None],
        ["钱坤", 13800138009, "1990年1月2日", "A", None, None, "11010519491231002x"],
    ])
    report = run(sess, user, importer.read_table(data, "kunden.xlsx"))
    assert report.valid, report.errors
    assert report.counts["create"] == 1 and report.counts["same_in_file"] == 2
    zhao = party_by_phone(sess, "+8613800138000")
    assert zhao.id_number == "11010519491231002X" and zhao.branch_id == seeded["branches"]["A"]
    assert sess.scalar(select(func.count()).select_from(Vehicle)
                       .where(Vehicle.owner_id == zhao.id)) == 2


def test_rows_matching_customers_on_file(app, env, seeded):
    sess, user = env
    existing = parties.create_party(sess, {"name": "Old Customer", "phones": ["13800138000"],
                                           "branch_id": seeded["branches"]["A"]}, user=user)
    sess.commit()
    text = ("name,phone,branch,vin\n"
            "Old Customer (new phone book),138 0013 8000,A,LSVAU218XN2183294\n")
    # attach (the default): the vehicle goes to the customer on file, no new customer
    report = run(sess, user, csv_table(text), dry_run=True)
    assert report.counts["attach"] == 1 and report.counts["create"] == 0
    assert report.matches == [{"row": 2, "customer_id": existing.id, "name": "Old Customer",
                               "by": "phone", "value": "+8613800138000", "action": "attach"}]
    assert count(app, Vehicle) == 0
    report = run(sess, user, csv_table(text))
    assert report.committed and count(app, Party) == 1
    assert sess.scalar(select(Vehicle.owner_id)) == existing.id
    # importing the same file again changes nothing
    report = run(sess, user, csv_table(text))
    assert report.valid and report.counts["vehicles_unchanged"] == 1
    assert count(app, Vehicle) == 1
    # skip: the row is left out
    report = run(sess, user, csv_table(text.replace("LSVAU218XN2183294", "LFV2A21K9A4012345")),
                 on_existing="skip")
    assert report.counts["skip"] == 1 and count(app, Vehicle) == 1
    # create: a new customer despite the same phone
    report = run(sess, user, csv_table(text.replace("LSVAU218XN2183294", "LFV2A21K9A4012345")),
                 on_existing="create")
    assert report.counts["create"] == 1 and report.matches[0]["action"] == "create"
    assert count(app, Party) == 2 and count(app, Vehicle) == 2


def test_a_vin_of_another_owner_and_an_email_on_file_are_errors(env):
    sess, user = env
    run(sess, user, csv_table("name,phone,email,branch,vin\n"
                              "A,13800138000,a@example.com,A,LSVAU218XN2183294\n"))
    report = run(sess, user, csv_table(
        "name,phone,email,branch,vin\n"
        "B,13800138001,,A,LSVAU218XN2183294\n"
        "C,13800138002,a@example.com,A,\n"), dry_run=True)
    assert errors_of(report) == {(2, "vin"), (3, "email")}
    reasons = [e["reason"] for e in report.errors]
    assert "registered already" in reasons[0] and "Already registered for A" in reasons[1]


def test_a_car_without_vin_is_imported_by_its_plate_once(env):
    """A walk-in's old car in the file has a plate but no VIN: registered by the plate, and
    importing the file again leaves it as it is (no second car of the same plate)."""
    sess, user = env
    text = "name,phone,branch,plate,make\nD,13800138009,A,京A 5B6C7,Honda\n"
    first = run(sess, user, csv_table(text))
    assert first.counts["vehicles"] == 1 and first.errors == []
    again = run(sess, user, csv_table(text))
    assert again.counts["vehicles_unchanged"] == 1 and again.counts["vehicles"] == 0
    cars = sess.scalars(select(Vehicle).where(Vehicle.plate == "京A5B6C7")).all()
    assert len(cars) == 1 and cars[0].vin is None


def test_identity_numbers_match_and_are_masked_in_the_report(env):
    sess, user = env
    run(sess, user, csv_table("name,id_number,branch\nA,11010519491231002X,A\n"))
    report = run(sess, user, csv_table("姓名,身份证号,门店,车架号\n"
                                       "A,110105194912310 02x,A,LSVAU218XN2183294\n"),
                 dry_run=True)
    assert report.counts["attach"] == 1
    assert report.matches[0]["by"] == "id_number" and report.matches[0]["value"] == "…002X"


def test_bad_options_are_refused(env):
    sess, user = env
    with pytest.raises(ValidationFailed) as caught:
        importer.import_table(sess, table("customers_utf8.csv"),
                              Options(on_existing="merge"), user=user)
    assert "on_existing" in caught.value.errors


def test_branches_the_user_does_not_work_in_are_refused(app, env):
    sess, _user = env
    sales = sess.scalar(select(User).where(User.username == "sales"))
    report = run(sess, sales, csv_table("name,phone,branch\nA,13800138000,B\n"), dry_run=True)
    assert report.errors == [{"row": 2, "column": "branch",
                              "reason": "You do not work in branch B."}]


# --- the background job --------------------------------------------------------------------


def test_task_refuses_upload_names_that_are_not_its_own(app, seeded):
    client = app.test_client()
    resp = client.post("/api/v1/jobs", headers=bearer(app, "manager"), json={
        "task": "crm.import", "params": {"upload": "../../instance.cfg"}})
    assert resp.status_code == 202
    job = client.get(f"/api/v1/jobs/{resp.json['id']}", headers=bearer(app, "manager")).json
    assert job["status"] == "failed" and "Not the name of a stored upload" in job["error"]


def test_progress_is_reported_every_two_percent(env, monkeypatch):
    sess, user = env
    rows = "".join(f"P{i},1380013{i:04d},A\n" for i in range(100))
    seen: list[int] = []
    importer.import_table(sess, csv_table("name,phone,branch\n" + rows), user=user,
                          progress=lambda done, total: seen.append(done))
    assert seen == list(range(2, 101, 2))


# --- the API -------------------------------------------------------------------------------


def test_api_dry_run_answers_the_report(app, seeded):
    client = app.test_client()
    resp = upload(client, "/api/v1/import/customers", "bad_rows.csv",
                  (DATA / "bad_rows.csv").read_bytes(), bearer(app, "manager"))
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["valid"] is False and body["rows"] == 6 and body["dry_run"] is True
    assert {(e["row"], e["column"]) for e in body["errors"]} == {
        (3, "phone"), (4, "vin"), (5, "branch"), (6, "name")}
    assert body["counts"]["create"] == 2 and body["warnings"] == []
    assert count(app, Party) == 0 and stored_uploads(app) == []


def test_api_refuses_unreadable_files_and_bad_fields(app, seeded):
    client = app.test_client()
    headers = bearer(app, "manager")
    resp = upload(client, "/api/v1/import/customers", "list.pdf", b"%PDF", headers)
    assert resp.status_code == 422 and "not a CSV or Excel" in resp.json["message"]
    assert "file" in resp.json["errors"]
    resp = client.post("/api/v1/import/customers", headers=headers, data={},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.json["errors"]
    resp = upload(client, "/api/v1/import/customers", "a.csv", b"name\nA\n", headers,
                  on_existing="merge")
    assert resp.status_code == 422 and "on_existing" in resp.json["errors"]


def test_api_import_runs_as_a_job(app, seeded):
    client = app.test_client()
    headers = bearer(app, "manager")
    resp = upload(client, "/api/v1/import/customers", "customers.xlsx", xlsx_bytes([
        ["name", "phone", "branch", "vin"],
        ["Wang", 13800138000, "A", "LSVAU218XN2183294"],
        ["Li", 13800138001, "B", None],
    ]), headers, dry_run="false")
    assert resp.status_code == 202, resp.json
    assert resp.json["status"] == "finished"  # the inline backend of the tests ran it
    assert resp.headers["Location"].endswith(f"/api/v1/jobs/{resp.json['id']}")
    job = client.get(f"/api/v1/jobs/{resp.json['id']}", headers=headers).json
    assert job["status"] == "finished", job
    assert job["result"]["committed"] is True and job["result"]["counts"]["create"] == 2
    assert job["result"]["filename"] == "customers.xlsx"
    assert count(app, Party) == 2 and count(app, Vehicle) == 1
    assert stored_uploads(app) == []  # deleted after the job


def test_api_import_job_fails_and_writes_nothing_when_a_row_is_bad(app, seeded):
    client = app.test_client()
    headers = bearer(app, "manager")
    resp = upload(client, "/api/v1/import/customers", "bad_rows.csv",
                  (DATA / "bad_rows.csv").read_bytes(), headers, dry_run="false")
    assert resp.status_code == 202
    job = client.get(f"/api/v1/jobs/{resp.json['id']}", headers=headers).json
    assert job["status"] == "failed"
    assert "4 of 6 rows are not valid" in job["error"] and "Row 4, vin:" in job["error"]
    assert count(app, Party) == 0 and stored_uploads(app) == []
    resp = upload(client, "/api/v1/import/customers", "bad_rows.csv",
                  (DATA / "bad_rows.csv").read_bytes(), headers, dry_run="false",
                  only_valid="true")
    job = client.get(f"/api/v1/jobs/{resp.json['id']}", headers=headers).json
    assert job["status"] == "finished" and job["result"]["counts"]["create"] == 2
    assert count(app, Party) == 2


def test_api_permission(app, seeded):
    client = app.test_client()
    data = (DATA / "customers_utf8.csv").read_bytes()
    assert upload(client, "/api/v1/import/customers", "a.csv", data).status_code == 401
    resp = upload(client, "/api/v1/import/customers", "a.csv", data, bearer(app, "sales"))
    assert resp.status_code == 403
    resp = client.post("/api/v1/jobs", headers=bearer(app, "sales"),
                       json={"task": "crm.import", "params": {}})
    assert resp.status_code == 403


# --- the pages -----------------------------------------------------------------------------


def test_page_flow_check_then_import(app, admin_client):
    assert admin_client.get("/import").status_code == 200
    resp = upload(admin_client, "/import", "customers_utf8.csv",
                  (DATA / "customers_utf8.csv").read_bytes())
    assert resp.status_code == 302, resp.data
    report_url = resp.headers["Location"]
    assert len(stored_uploads(app)) == 1  # kept for the import
    page = admin_client.get(report_url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "All 4 rows are valid." in html
    assert 'data-count="create">3<' in html and 'data-count="same_in_file">1<' in html
    assert count(app, Party) == 0
    resp = admin_client.post(report_url + "/import")
    assert resp.status_code == 302 and "/jobs/" in resp.headers["Location"]
    job_page = admin_client.get(resp.headers["Location"])
    assert job_page.status_code == 200 and "Import customers and vehicles" in job_page.get_data(
        as_text=True)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        job = sess.get(Job, resp.headers["Location"].rsplit("/", 1)[1])
        assert job.status == "finished" and job.result["committed"] is True
    assert count(app, Party) == 3 and count(app, Vehicle) == 3
    assert stored_uploads(app) == []
    # a second click finds the file gone instead of importing it twice
    again = admin_client.post(report_url + "/import", follow_redirects=True)
    assert "no longer available" in again.get_data(as_text=True)
    assert count(app, Party) == 3


def test_page_report_lists_bad_rows_and_imports_only_valid_on_request(app, admin_client):
    resp = upload(admin_client, "/import", "bad_rows.csv", (DATA / "bad_rows.csv").read_bytes())
    report_url = resp.headers["Location"]
    html = admin_client.get(report_url).get_data(as_text=True)
    assert "4 of 6 rows are not valid" in html
    assert "<tr><td>5</td><td>branch</td>" in html and "<tr><td>6</td><td>name</td>" in html
    assert "Import the 2 valid rows only" in html
    listing = admin_client.get(report_url + "/errors.csv")
    lines = listing.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "Row,Column,Reason" and len(lines) == 5 and lines[2].startswith("4,vin,")
    resp = admin_client.post(report_url + "/import", data={"only_valid": "1"})
    assert resp.status_code == 302
    assert sorted(n for (n,) in _names(app)) == ["Good One", "Good Two"]


def _names(app: Any) -> list[tuple[str]]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return list(sess.execute(select(Party.name)))


def test_page_refuses_an_unreadable_file_next_to_the_field(app, admin_client):
    resp = upload(admin_client, "/import", "customers.xls", b"\xd0\xcf\x11\xe0")
    assert resp.status_code == 422
    assert "Save it as an Excel workbook" in resp.get_data(as_text=True)
    assert stored_uploads(app) == []
    resp = admin_client.post("/import", data={}, content_type="multipart/form-data")
    assert resp.status_code == 422 and "Choose a file." in resp.get_data(as_text=True)


def test_template_csv_in_the_users_language(app, admin_client):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(CustomField(entity="party", name="wechat", label="WeChat ID", type="text"))
        sess.commit()
    resp = admin_client.get("/import/template.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeffname,phone,email,kind,")
    assert text.rstrip().endswith(",WeChat ID")
    admin_client.post("/language/zh_CN", data={"next": "/"})
    text = admin_client.get("/import/template.csv").get_data(as_text=True)
    assert text.startswith("\ufeff姓名,手机,邮箱,类型,")


def test_pages_need_the_import_permission(app, seeded):
    client = app.test_client()
    assert client.get("/import").status_code == 302  # to the login page
    login(client, "sales")
    assert client.get("/import").status_code == 403
    assert client.get("/import/template.csv").status_code == 403
    resp = upload(client, "/import", "a.csv", (DATA / "customers_utf8.csv").read_bytes())
    assert resp.status_code == 403


def test_report_pages_are_only_for_dry_run_checks(app, admin_client):
    resp = upload(admin_client, "/api/v1/import/customers", "a.csv",
                  (DATA / "customers_utf8.csv").read_bytes(), dry_run="false")
    assert resp.status_code == 202
    assert admin_client.get(f"/import/{resp.json['id']}").status_code == 404
    assert admin_client.get("/import/not-a-job").status_code == 404
    assert admin_client.post("/import/not-a-job/import").status_code == 404


def test_report_page_shows_progress_while_the_check_runs(app, admin_client, seeded):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(Job(id="a" * 32, task="crm.import", status="running", progress=40,
                     params={"upload": "b" * 32 + ".csv", "dry_run": True,
                             "filename": "big.csv"},
                     created_by=seeded["users"]["admin"]))
        sess.commit()
    html = admin_client.get("/import/" + "a" * 32).get_data(as_text=True)
    assert "data-job-poll=" in html and "width: 40%" in html and "big.csv" in html
    resp = admin_client.post("/import/" + "a" * 32 + "/import", follow_redirects=True)
    assert "has not finished" in resp.get_data(as_text=True)


def test_the_report_speaks_the_users_language(app, admin_client):
    admin_client.post("/language/zh_CN", data={"next": "/"})
    resp = upload(admin_client, "/import", "bad_rows.csv", (DATA / "bad_rows.csv").read_bytes())
    assert resp.status_code == 302
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        job = sess.get(Job, resp.headers["Location"].rsplit("/", 1)[1])
        assert job.params["locale"].startswith("zh")
        assert {"row": 6, "column": "name", "reason": "必填。"} in job.result["errors"]


def test_a_file_with_too_many_rows_fails_its_check_job(app, admin_client, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROWS", 3)
    resp = upload(admin_client, "/import", "customers_utf8.csv",
                  (DATA / "customers_utf8.csv").read_bytes())
    assert resp.status_code == 302  # readable: the rows are counted by the job
    html = admin_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "more than 3 rows" in html and "data-import-failed" in html
    assert stored_uploads(app) == []
