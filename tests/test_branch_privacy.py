"""No leaks across branches: a reader limited to branch A never sees the name (nor the id,
where a record points to one) of a branch-B customer, on any surface that shows linked
parties: import matches (dry run, all-or-nothing, valid-only, every ``on_existing``), duplicate
warnings, a vehicle's owners (API and page), the search page's vehicles, and audit summaries
(API, log page, export and the history panels of record pages)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from carebiz.crm import importing as importer
from carebiz.crm.models import ORGANIZATION, Party, Vehicle
from carebiz.crm.services import parties, vehicles
from carebiz.models import AuditEntry, Job, User
from tests.conftest import PASSWORD, login, token_for
from tests.crm_helpers import valid_vin

SECRET = "Bravo-Secret"
PHONES = [f"1390000{n:04d}" for n in range(1, 21)]
SHARED = "13911112222"  # the phone of two branch-B customers


@pytest.fixture
def world(app: Any, seeded: dict[str, Any]) -> dict[str, Any]:
    """Branch B holds 20 customers with phones, two more sharing one phone, the new owner of
    a branch-A vehicle and the contact person of a branch-A organization; ``bmanager`` is a
    manager (import, audit, merge) granted branch A only."""
    from carebiz.services.users import create_user

    a, b = seeded["branches"]["A"], seeded["branches"]["B"]
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        create_user(sess, "bmanager", PASSWORD, roles=["manager"], branches=["A"])
        secret = [parties.create_party(sess, {"name": f"{SECRET}-{i:02d}", "phones": [phone],
                                              "branch_id": b})
                  for i, phone in enumerate(PHONES, start=1)]
        for tail in ("x", "y"):
            parties.create_party(sess, {"name": f"{SECRET}-shared-{tail}", "phones": [SHARED],
                                        "branch_id": b}, allow_duplicates=True)
        alpha = parties.create_party(sess, {"name": "Alpha Owner", "branch_id": a})
        car = vehicles.create_vehicle(sess, {"vin": valid_vin(10), "plate": "粤B12345",
                                             "owner_id": alpha.id, "branch_id": a})
        new_owner = parties.create_party(sess, {"name": f"{SECRET}-owner", "branch_id": b})
        vehicles.change_owner(sess, car, new_owner, car.created_at.date())
        org = parties.create_party(sess, {"name": "Alpha Org", "kind": ORGANIZATION,
                                          "branch_id": a})
        contact = parties.create_party(sess, {"name": f"{SECRET}-contact", "branch_id": b})
        parties.set_contact(sess, org, contact, "buyer")
        sess.commit()
        return {"secret_ids": {p.id for p in secret} | {new_owner.id, contact.id},
                "vehicle": car.id, "org": org.id, "alpha": alpha.id, "owner": new_owner.id,
                "a": a, "b": b}


def leaked(text: str) -> int:
    """How many distinct branch-B customers a text names."""
    return len(set(re.findall(re.escape(SECRET) + r"-[\w-]+", text)))


def client_for(app: Any, username: str) -> Any:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def bearer(app: Any, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(app, username)}"}


def csv_upload(client: Any, url: str, text: str, headers: Any = None, **fields: Any) -> Any:
    form = {"file": (io.BytesIO(text.encode()), "customers.csv"), **fields}
    return client.post(url, data=form, headers=headers or {},
                       content_type="multipart/form-data")


def rows_with_secret_phones(vin: bool = True) -> str:
    if not vin:
        return "name,phone,branch\n" + "".join(f"Row {i},{phone},A\n"
                                               for i, phone in enumerate(PHONES))
    lines = ["name,phone,branch,vin"]
    lines += [f"Row {i},{phone},A,{valid_vin(10 * (100 + i))}" for i, phone in enumerate(PHONES)]
    return "\n".join(lines) + "\n"


# --- import ----------------------------------------------------------------------------------


@pytest.mark.parametrize("vin", [True, False], ids=["with_vin", "without_vin"])
@pytest.mark.parametrize("mode", importer.ON_EXISTING)
def test_import_dry_run_names_no_customer_of_another_branch(app, world, mode, vin):
    resp = csv_upload(app.test_client(), "/api/v1/import/customers",
                      rows_with_secret_phones(vin), bearer(app, "bmanager"), dry_run="true",
                      on_existing=mode)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert leaked(resp.get_data(as_text=True)) == 0  # before the fix: 20 of 20 names
    assert not {m["customer_id"] for m in body["matches"]} & world["secret_ids"]
    if mode == "attach":  # a customer one may not see is never attached to
        assert body["counts"]["attach"] == 0 and body["counts"]["invalid"] == 20
        assert all("customer of another branch" in e["reason"] for e in body["errors"])
        assert {e["column"] for e in body["errors"]} == {"phone"}
    else:
        assert body["valid"] and body["counts"][mode] == 20
        assert [m["name"] for m in body["matches"]] == ["a customer of another branch"] * 20
        assert {m["customer_id"] for m in body["matches"]} == {None}


def test_import_dry_run_as_a_manager_of_every_branch_still_names_them(app, world):
    resp = csv_upload(app.test_client(), "/api/v1/import/customers", rows_with_secret_phones(),
                      bearer(app, "manager"), dry_run="true")
    assert resp.json["counts"]["attach"] == 20 and leaked(resp.get_data(as_text=True)) == 20
    assert {m["customer_id"] for m in resp.json["matches"]} <= world["secret_ids"]


def test_an_ambiguous_match_does_not_name_the_other_branch(app, world):
    text = f"name,phone,branch\nSomeone,{SHARED},A\n"
    resp = csv_upload(app.test_client(), "/api/v1/import/customers", text,
                      bearer(app, "bmanager"), dry_run="true")
    (error,) = resp.json["errors"]
    assert "more than one customer" in error["reason"]
    assert "2 customers of other branches" in error["reason"]
    assert leaked(error["reason"]) == 0 and "#" not in error["reason"]
    everywhere = csv_upload(app.test_client(), "/api/v1/import/customers", text,
                            bearer(app, "manager"), dry_run="true")
    assert leaked(everywhere.json["errors"][0]["reason"]) == 2


def _as(sess: Any, username: str) -> User:
    user = sess.scalar(select(User).where(User.username == username))
    sess.info["actor"] = user
    return user


def _owned_by_secret(sess: Any, world: dict[str, Any]) -> int:
    return sess.scalar(select(func.count()).select_from(Vehicle)
                       .where(Vehicle.owner_id.in_(world["secret_ids"])))


def test_all_or_nothing_import_writes_nothing_and_names_nobody(app, world):
    text = (f"name,phone,branch,vin\nNew Alpha,13800138000,A,{valid_vin(2010)}\n"
            f"Row,{PHONES[0]},A,{valid_vin(2020)}\n")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        user = _as(sess, "bmanager")
        before = _owned_by_secret(sess, world)
        report = importer.import_table(sess, importer.read_table(text.encode(), "a.csv"),
                                       importer.Options(), user=user, dry_run=False)
        sess.commit()
        assert not report.committed and report.counts["invalid"] == 1
        assert leaked(importer.failure_message(report)) == 0
        assert "customer of another branch" in importer.failure_message(report)
        assert sess.scalar(select(func.count()).select_from(Party)
                           .where(Party.name == "New Alpha")) == 0
        assert _owned_by_secret(sess, world) == before


def test_valid_only_import_keeps_the_good_rows_and_attaches_nothing_hidden(app, world):
    text = (f"name,phone,branch,vin\nNew Alpha,13800138000,A,{valid_vin(2010)}\n"
            f"Row,{PHONES[0]},A,{valid_vin(2020)}\n")
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        user = _as(sess, "bmanager")
        before = _owned_by_secret(sess, world)
        report = importer.import_table(sess, importer.read_table(text.encode(), "a.csv"),
                                       importer.Options(only_valid=True), user=user,
                                       dry_run=False)
        sess.commit()
        assert report.committed and report.counts["create"] == 1
        assert report.counts["invalid"] == 1 and report.counts["attach"] == 0
        assert leaked(str(report.as_dict())) == 0
        assert _owned_by_secret(sess, world) == before
        assert sess.scalar(select(Vehicle).where(Vehicle.vin == valid_vin(2020))) is None


def test_import_job_failure_message_names_nobody(app, world):
    client = app.test_client()
    headers = bearer(app, "bmanager")
    resp = csv_upload(client, "/api/v1/import/customers", rows_with_secret_phones(), headers,
                      dry_run="false")
    assert resp.status_code == 202
    job = client.get(f"/api/v1/jobs/{resp.json['id']}", headers=headers).json
    assert job["status"] == "failed" and "20 of 20 rows are not valid" in job["error"]
    assert leaked(str(job)) == 0


def test_import_report_page_names_nobody(app, world):
    client = client_for(app, "bmanager")
    resp = csv_upload(client, "/import", rows_with_secret_phones(), on_existing="skip")
    assert resp.status_code == 302, resp.data
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "a customer of another branch" in html and leaked(html) == 0
    assert not any(f"(#{pid})" in html for pid in world["secret_ids"])
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        job = sess.scalars(select(Job).order_by(Job.created_at.desc())).first()
        assert leaked(str(job.result)) == 0


def test_duplicate_warning_names_nobody_of_another_branch(app, world):
    resp = app.test_client().post("/api/v1/customers", headers=bearer(app, "sales"),
                                  json={"name": "Someone", "phones": [PHONES[0]]})
    assert resp.status_code == 409
    body = resp.get_data(as_text=True)
    assert leaked(body) == 0
    assert resp.json["duplicates"] == [{"id": None, "name": "a customer of another branch",
                                        "reason": "phone", "value": "+86" + PHONES[0]}]
    assert not any(f"#{pid}" in body for pid in world["secret_ids"])
    page = client_for(app, "sales").post("/customers/new", data={
        "kind": "person", "name": "Someone", "phones": PHONES[0],
        "branch_id": str(world["a"]), "roles": ["customer"]})
    assert page.status_code == 422 and leaked(page.get_data(as_text=True)) == 0
    assert "a customer of another branch" in page.get_data(as_text=True)


# --- linked records ----------------------------------------------------------------------------


def test_vehicle_owners_name_nobody_of_another_branch(app, world):
    vid = world["vehicle"]
    api = app.test_client().get(f"/api/v1/vehicles/{vid}", headers=bearer(app, "bmanager"))
    assert api.status_code == 200
    owners = api.json["ownerships"]
    assert [o["name"] for o in owners] == ["a customer of another branch", "Alpha Owner"]
    assert owners[0]["party_id"] is None and owners[1]["party_id"] == world["alpha"]
    assert leaked(api.get_data(as_text=True)) == 0
    page = client_for(app, "bmanager").get(f"/vehicles/{vid}").get_data(as_text=True)
    assert leaked(page) == 0 and "Alpha Owner" in page
    everywhere = app.test_client().get(f"/api/v1/vehicles/{vid}", headers=bearer(app, "admin"))
    assert everywhere.json["ownerships"][0]["name"] == f"{SECRET}-owner"


def test_search_page_vehicles_name_nobody_of_another_branch(app, world):
    html = client_for(app, "bmanager").get(f"/search?q={valid_vin(10)}&all=1").get_data(
        as_text=True)
    assert valid_vin(10) in html and leaked(html) == 0


def test_audit_api_page_export_and_panels_name_nobody_of_another_branch(app, world):
    client = client_for(app, "bmanager")
    api = client.get("/api/v1/audit?per_page=500").get_data(as_text=True)
    assert "now owned by a customer of another branch" in api  # before: by Bravo-Secret-owner
    assert "Contact a customer of another branch added to Alpha Org" in api
    page = client.get("/admin/audit").get_data(as_text=True)
    export = client.get("/export/admin.audit?format=csv").get_data(as_text=True)
    xlsx = client.get("/export/admin.audit?format=xlsx")
    assert xlsx.status_code == 200
    org_panel = client.get(f"/customers/{world['org']}").get_data(as_text=True)
    car_panel = client.get(f"/vehicles/{world['vehicle']}").get_data(as_text=True)
    for text in (api, page, export, org_panel, car_panel):
        assert leaked(text) == 0
    assert "a customer of another branch" in org_panel and "Alpha Org" in org_panel
    # who may see the customer reads the name
    admin = client_for(app, "admin")
    assert f"now owned by {SECRET}-owner" in admin.get("/admin/audit").get_data(as_text=True)
    assert f"Contact {SECRET}-contact added" in admin.get(
        f"/customers/{world['org']}").get_data(as_text=True)


def test_audit_summaries_keep_which_party_each_argument_names(app, world):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        entry = sess.scalar(select(AuditEntry).where(AuditEntry.event == "vehicle.owner_changed"))
        args = entry.summary_args
        assert args["name"] == f"{SECRET}-owner"
        assert args["_refs"] == {"name": ["party", world["owner"]]}
        # not resolved for a reader: default deny
        vin = entry.summary_args["vin"]
        assert entry.summary_text == f"Vehicle {vin} now owned by a customer of another branch"


def test_summaries_stored_before_refs_are_masked_too(app, world):
    """Entries written before summaries carried their parties (a database upgraded in
    production) are masked from the id their change recorded."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        sess.add(AuditEntry(actor_name="admin", event="vehicle.owner_changed",
                            entity_type="vehicle", entity_id=str(world["vehicle"]),
                            branch_id=world["a"],
                            summary="Vehicle %(vin)s now owned by %(name)s",
                            summary_args={"vin": "LEGACY", "name": f"{SECRET}-legacy"},
                            before={"owner_id": world["alpha"]},
                            after={"owner_id": world["owner"]}))
        sess.add(AuditEntry(actor_name="admin", event="customer.updated", entity_type="party",
                            entity_id=str(world["org"]), branch_id=world["a"],
                            summary="Contact %(person)s added to %(org)s",
                            summary_args={"person": f"{SECRET}-old-contact",
                                          "org": "Alpha Org"},
                            after={"person_id": world["owner"]}))
        sess.commit()
    client = client_for(app, "bmanager")
    api = client.get("/api/v1/audit?per_page=500").get_data(as_text=True)
    assert "Vehicle LEGACY now owned by a customer of another branch" in api
    assert leaked(api) == 0
    admin = client_for(app, "admin").get("/api/v1/audit?per_page=500").get_data(as_text=True)
    assert f"{SECRET}-legacy" in admin and f"{SECRET}-old-contact" in admin


def test_vehicles_list_withholds_the_owner_of_another_branch(app, world):
    html = client_for(app, "bmanager").get("/vehicles").get_data(as_text=True)
    assert valid_vin(10) in html and "a customer of another branch" in html
    assert f"#{world['owner']}<" not in html and leaked(html) == 0


def test_recent_trail_drops_a_customer_moved_to_another_branch(app, world):
    client = client_for(app, "sales")
    assert client.get(f"/customers/{world['alpha']}").status_code == 200
    assert "Alpha Owner" in client.get("/my-day").get_data(as_text=True)  # in the trail
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = sess.get(Party, world["alpha"])
        parties.update_party(sess, party, {"branch_id": world["b"]})
        sess.commit()
    assert "Alpha Owner" not in client.get("/my-day").get_data(as_text=True)


def test_import_email_of_another_branch_names_nobody(app, world):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        parties.create_party(sess, {"name": f"{SECRET}-mail", "emails": ["b@example.com"],
                                    "branch_id": world["b"]})
        sess.commit()
    resp = csv_upload(app.test_client(), "/api/v1/import/customers",
                      "name,email,branch\nSomeone,b@example.com,A\n", bearer(app, "bmanager"),
                      dry_run="true")
    assert resp.json["errors"] == [{"row": 2, "column": "email", "reason":
                                    "Already registered for a customer of another branch."}]


def test_a_summary_naming_a_record_of_unknown_type_masks_it_for_everyone(app, seeded):
    from carebiz.models.audit import for_reader

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        admin = _as(sess, "admin")
        entry = AuditEntry(actor_name="admin", event="x", entity_type="thing", entity_id="1",
                           summary="Thing given to %(name)s",
                           summary_args={"name": "Someone", "_refs": {"name": ["nope", 1]}})
        for_reader(sess, [entry], admin)
        assert entry.summary_text == "Thing given to a record you may not see"


def test_a_merge_entry_withholds_the_merged_away_customer_of_another_branch(app, world):
    """An administrator merges a branch-B customer into a branch-A one: the kept customer's
    audit entry carries the merged-away customer's snapshot, shown only to who may see it."""
    from carebiz.crm.services.merge import merge_parties

    removed_id = min(world["secret_ids"] - {world["owner"]})
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        merge_parties(sess, sess.get(Party, world["alpha"]), sess.get(Party, removed_id))
        sess.commit()
    client = client_for(app, "bmanager")
    api = client.get(f"/api/v1/audit?entity_type=party&entity_id={world['alpha']}")
    assert api.status_code == 200
    merged = [e for e in api.get_json()["items"] if e["event"] == "customer.merged"]
    assert merged and merged[0]["before"]["removed"] == "withheld: a record you may not see"
    assert merged[0]["before"]["kept"]["name"] == "Alpha Owner"
    texts = [api.get_data(as_text=True), client.get("/admin/audit").get_data(as_text=True),
             client.get("/export/admin.audit?format=csv").get_data(as_text=True),
             client.get(f"/customers/{world['alpha']}").get_data(as_text=True)]
    assert [leaked(text) for text in texts] == [0, 0, 0, 0]
    admin = client_for(app, "admin").get(f"/api/v1/audit?entity_type=party&"
                                         f"entity_id={world['alpha']}").get_json()
    shown = [e for e in admin["items"] if e["event"] == "customer.merged"][0]
    assert shown["before"]["removed"]["name"].startswith(SECRET)
