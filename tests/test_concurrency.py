"""Data integrity under concurrency (issue 8): parallel merges, lost updates, and writers
kept working during a large import. Races run for real: threads with their own clients,
sessions and connections against the file SQLite database of the tests or PostgreSQL."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.exc import OperationalError

from carebiz import concurrency
from carebiz.crm import importing as importer
from carebiz.crm.importing import loop
from carebiz.crm.importing.rows import RowImporter
from carebiz.crm.models import Party, PartyPhone, Vehicle
from carebiz.crm.services import parties
from carebiz.crm.validation import vin_check_digit
from carebiz.models import AuditEntry, User
from tests.conftest import PG_URL, login, token_for

ROUNDS = 10


def valid_vin(serial: int) -> str:
    """A distinct VIN with a correct check digit for every serial below ten million."""
    raw = f"LSVAB2180N{serial:07d}"
    return raw[:8] + vin_check_digit(raw) + raw[9:]


# --- helpers -------------------------------------------------------------------------------


class Api:
    """A bearer-token client of one seeded user (each thread gets its own)."""

    def __init__(self, app: Flask, user: str = "admin") -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token_for(app, user)}"}

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers)

    def post(self, url: str, body: Any) -> Any:
        return self.client.post(url, json=body, headers=self.headers)

    def patch(self, url: str, body: Any, **headers: str) -> Any:
        return self.client.patch(url, json=body, headers={**self.headers, **headers})


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same moment; their results in order (an
    exception that escaped is returned as such: to a user it would be a 500)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def codes(results: list[Any]) -> list[Any]:
    return sorted((r.status_code if hasattr(r, "status_code") else repr(r)) for r in results)


def two_customers(api: Api, branch: int, serial: int) -> tuple[int, int]:
    ids = []
    for k in (0, 1):
        made = api.post("/api/v1/customers", {"name": f"Twin {serial}-{k}", "branch_id": branch})
        assert made.status_code == 201, made.json
        car = api.post("/api/v1/vehicles", {"vin": valid_vin(serial * 2 + k),
                                            "owner_id": made.json["id"], "branch_id": branch})
        assert car.status_code == 201, car.json
        ids.append(made.json["id"])
    return ids[0], ids[1]


def merge_state(app: Flask, a: int, b: int) -> dict[str, Any]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        rows = {p.id: p for p in sess.scalars(select(Party).where(Party.id.in_([a, b])))}
        return {
            "active": sorted(p.id for p in rows.values() if p.active),
            "pointers": {p.id: p.merged_into_id for p in rows.values() if not p.active},
            "owners": sorted(sess.scalars(select(Vehicle.owner_id)
                                          .where(Vehicle.owner_id.in_([a, b])))),
            "merge_audits": sess.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.event == "customer.merged",
                AuditEntry.entity_id.in_([str(a), str(b)]))),
        }


def assert_merged_once(app: Flask, a: int, b: int) -> None:
    state = merge_state(app, a, b)
    assert len(state["active"]) == 1, state
    kept = state["active"][0]
    assert state["pointers"] == {({a, b} - {kept}).pop(): kept}, state  # never into itself
    assert state["owners"] == [kept, kept], state  # no vehicle left on the inactive record
    assert state["merge_audits"] == 1, state


@pytest.fixture
def api(app: Flask, seeded: dict[str, Any]) -> Api:
    return Api(app)


# --- 1. parallel merges --------------------------------------------------------------------


def test_crossed_merges_at_the_same_moment_merge_once(app, seeded, api):
    """A→B and B→A posted together: before, both answered 200 and left both customers
    inactive (one merged into itself) with the vehicles on inactive records, or deadlocked
    on PostgreSQL (500). Now exactly one wins and the loser gets a clear 409."""
    other = Api(app, "manager")
    branch = seeded["branches"]["A"]
    for r in range(ROUNDS):
        a, b = two_customers(api, branch, 100 + r)
        results = at_once(
            lambda a=a, b=b: api.post("/api/v1/customers/merge", {"keep_id": a, "remove_id": b}),
            lambda a=a, b=b: other.post("/api/v1/customers/merge",
                                        {"keep_id": b, "remove_id": a}))
        assert codes(results) == [200, 409], [getattr(x, "json", x) for x in results]
        loser = next(x for x in results if x.status_code == 409).json
        assert "merged into customer" in loser["message"] and loser["code"] == 409
        assert_merged_once(app, a, b)


def test_the_same_merge_twice_at_once_happens_once(app, seeded, api):
    other = Api(app, "manager")
    branch = seeded["branches"]["A"]
    for r in range(ROUNDS):
        a, b = two_customers(api, branch, 300 + r)
        body = {"keep_id": a, "remove_id": b}
        results = at_once(lambda body=body: api.post("/api/v1/customers/merge", body),
                          lambda body=body: other.post("/api/v1/customers/merge", body))
        assert codes(results) == [200, 409], [getattr(x, "json", x) for x in results]
        assert_merged_once(app, a, b)


def test_a_merge_raises_the_versions_of_what_it_moves(app, seeded, api):
    a, b = two_customers(api, seeded["branches"]["A"], 500)
    car = api.get(f"/api/v1/vehicles?owner_id={b}").json["items"][0]
    before = api.get(f"/api/v1/customers/{a}").json["version"]
    resp = api.post("/api/v1/customers/merge", {"keep_id": a, "remove_id": b})
    assert resp.status_code == 200 and resp.headers["ETag"] == f'"{resp.json["version"]}"'
    assert resp.json["version"] > before
    moved = api.get(f"/api/v1/vehicles/{car['id']}").json
    assert moved["owner_id"] == a and moved["version"] > car["version"]


# --- 2. lost updates: the API ----------------------------------------------------------------


def test_api_answers_the_version_and_refuses_a_stale_if_match(app, seeded, api):
    made = api.post("/api/v1/customers", {"name": "Zhou", "branch_id": seeded["branches"]["A"],
                                          "city": "Beijing"})
    party = made.json["id"]
    assert made.json["version"] == 1 and made.headers["ETag"] == '"1"'
    got = api.get(f"/api/v1/customers/{party}")
    etag = got.headers["ETag"]
    assert etag == '"1"' and got.json["version"] == 1

    manager = Api(app, "manager")
    first = manager.patch(f"/api/v1/customers/{party}", {"city": "Shanghai"}, **{"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'

    stale = api.patch(f"/api/v1/customers/{party}", {"city": "Tianjin"}, **{"If-Match": etag})
    assert stale.status_code == 409, stale.json
    body = stale.json
    assert body["code"] == 409 and body["status"] == "version_conflict"
    assert body["current_version"] == 2 and body["your_version"] == [1]
    assert body["changed"] == ["city"] and body["changed_by"] == ["manager"]
    assert body["current"] == {"city": "Shanghai"}
    assert "Shanghai" in body["errors"]["city"][0] and "manager" in body["message"]
    assert api.get(f"/api/v1/customers/{party}").json["city"] == "Shanghai"  # not reverted

    # the version in the body works the same; the current version goes through
    assert api.patch(f"/api/v1/customers/{party}",
                     {"city": "Tianjin", "version": 1}).status_code == 409
    ok = api.patch(f"/api/v1/customers/{party}", {"city": "Tianjin", "version": 2})
    assert ok.status_code == 200 and ok.json["version"] == 3 and ok.json["city"] == "Tianjin"
    assert api.patch(f"/api/v1/customers/{party}", {"name": "Zhou Wei"},
                     **{"If-Match": 'W/"1", "3"'}).status_code == 200  # any listed matches


def test_api_without_a_version_keeps_last_write_wins(app, seeded, api):
    """Old clients send neither If-Match nor version: their PATCH is saved as before."""
    party = api.post("/api/v1/customers", {"name": "Qian",
                                           "branch_id": seeded["branches"]["A"]}).json["id"]
    assert api.patch(f"/api/v1/customers/{party}", {"city": "Xi'an"}).status_code == 200
    assert api.patch(f"/api/v1/customers/{party}", {"city": "Wuhan"}).status_code == 200
    assert api.patch(f"/api/v1/customers/{party}", {"city": "Hefei"},
                     **{"If-Match": "*"}).status_code == 200
    assert api.get(f"/api/v1/customers/{party}").json["city"] == "Hefei"


def test_api_refuses_a_bad_or_contradictory_version(app, seeded, api):
    party = api.post("/api/v1/customers", {"name": "Sun",
                                           "branch_id": seeded["branches"]["A"]}).json["id"]
    resp = api.patch(f"/api/v1/customers/{party}", {"city": "X", "version": 1},
                     **{"If-Match": '"2"'})
    assert resp.status_code == 422 and "version" in resp.json["errors"]
    resp = api.patch(f"/api/v1/customers/{party}", {"city": "X", "version": "one"})
    assert resp.status_code == 422 and "version" in resp.json["errors"]
    resp = api.patch(f"/api/v1/customers/{party}", {"city": "X"},
                     **{"If-Match": '"not-ours"'})
    assert resp.status_code == 409 and resp.json["current_version"] == 1


def test_api_vehicles_carry_versions_too(app, seeded, api):
    branch = seeded["branches"]["A"]
    owner = api.post("/api/v1/customers", {"name": "Li", "branch_id": branch}).json["id"]
    new_owner = api.post("/api/v1/customers", {"name": "Ma", "branch_id": branch}).json["id"]
    car = api.post("/api/v1/vehicles", {"vin": valid_vin(700), "owner_id": owner,
                                        "branch_id": branch, "colour": "red"})
    assert car.status_code == 201 and car.headers["ETag"] == '"1"'
    vehicle = car.json["id"]
    moved = api.post(f"/api/v1/vehicles/{vehicle}/owner", {"owner_id": new_owner})
    assert moved.status_code == 200 and moved.json["version"] == 2
    stale = api.patch(f"/api/v1/vehicles/{vehicle}", {"colour": "blue"}, **{"If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json["changed"] == ["owner_id"]
    assert stale.json["current"] == {"owner_id": new_owner}
    ok = api.patch(f"/api/v1/vehicles/{vehicle}", {"colour": "blue", "version": 2})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"3"'


def test_a_race_between_read_and_write_is_a_409_not_a_lost_update(app, seeded):
    """Even without a version from the client, the UPDATE itself checks the version read:
    a change committed between this request's read and its write is never overwritten."""
    ext = app.extensions["carebiz"]
    with app.app_context():
        with ext.session_factory() as setup:
            party = parties.create_party(setup, {"name": "Race", "branch_id":
                                                 seeded["branches"]["A"]})
            setup.commit()
            party_id = party.id
        mine, theirs = ext.session_factory(), ext.session_factory()
        try:
            stale = mine.get(Party, party_id)
            parties.update_party(theirs, theirs.get(Party, party_id), {"city": "Theirs"})
            theirs.commit()
            with pytest.raises(concurrency.VersionConflict) as caught:
                parties.update_party(mine, stale, {"street": "Mine"})
                mine.commit()
            assert caught.value.status == 409
            mine.rollback()
            assert mine.get(Party, party_id).city == "Theirs"
        finally:
            mine.close()
            theirs.close()


def test_a_change_of_only_child_rows_raises_the_version(app, seeded, api):
    party = api.post("/api/v1/customers", {"name": "Phones", "branch_id":
                                           seeded["branches"]["A"]}).json["id"]
    resp = api.patch(f"/api/v1/customers/{party}", {"phones": ["13800138000"]})
    assert resp.status_code == 200 and resp.json["version"] == 2
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert sess.scalar(select(PartyPhone.e164).where(PartyPhone.party_id == party))


# --- 2. lost updates: the edit pages ---------------------------------------------------------


def _logged_in(app: Flask, username: str) -> Any:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _customer_form(party: Party, version: int, **changes: Any) -> dict[str, Any]:
    data = {"kind": party.kind, "name": party.name, "roles": ["customer"],
            "branch_id": str(party.branch_id), "city": party.city, "street": party.street,
            "version": str(version)}
    return {**data, **changes}


def test_a_stale_edit_form_is_refused_and_keeps_what_was_typed(app, seeded):
    """Before, the second person's stale form silently reverted the first person's city."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = parties.create_party(sess, {"name": "Wu", "city": "Beijing",
                                            "branch_id": seeded["branches"]["A"]})
        sess.commit()
        party_id = party.id
    admin, manager = _logged_in(app, "admin"), _logged_in(app, "manager")
    page = admin.get(f"/customers/{party_id}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    assert manager.get(f"/customers/{party_id}/edit").status_code == 200

    first = manager.post(f"/customers/{party_id}/edit",
                         data=_customer_form(party, 1, city="Shanghai"))
    assert first.status_code == 302
    second = admin.post(f"/customers/{party_id}/edit",
                        data=_customer_form(party, 1, name="Wu Lei", street="1 Long Road"))
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "manager changed this record while you were editing it: City" in html
    assert "now on file: Shanghai" in html
    assert 'value="Wu Lei"' in html and 'value="1 Long Road"' in html  # what was typed
    assert 'name="version" type="hidden" value="2"' in html
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        kept = sess.get(Party, party_id)
        assert (kept.name, kept.city) == ("Wu", "Shanghai")

    # saving again (with the version the page now carries) keeps the user's values
    again = admin.post(f"/customers/{party_id}/edit",
                       data=_customer_form(party, 2, name="Wu Lei", city="Shanghai"))
    assert again.status_code == 302
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        kept = sess.get(Party, party_id)
        assert (kept.name, kept.city, kept.version) == ("Wu Lei", "Shanghai", 3)


def test_a_stale_vehicle_form_is_refused(app, seeded):
    branch = seeded["branches"]["A"]
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from carebiz.crm.services import vehicles

        car = vehicles.create_vehicle(sess, {"vin": valid_vin(900), "branch_id": branch,
                                             "colour": "red"})
        sess.commit()
        car_id, vin = car.id, car.vin
    admin, manager = _logged_in(app, "admin"), _logged_in(app, "manager")
    form = {"vin": vin, "colour": "red", "branch_id": str(branch), "version": "1"}
    assert 'value="1"' in admin.get(f"/vehicles/{car_id}/edit").get_data(as_text=True)
    assert manager.post(f"/vehicles/{car_id}/edit",
                        data={**form, "colour": "blue"}).status_code == 302
    stale = admin.post(f"/vehicles/{car_id}/edit", data={**form, "make": "BYD"})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Colour" in html and "now on file: blue" in html and 'value="BYD"' in html
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert sess.get(Vehicle, car_id).colour == "blue"


# --- 3. a busy database answers 503, never 500 --------------------------------------------


def _short_lock_waits(app: Flask) -> None:
    """Make the app's connections give up waiting for a lock after 0.2 s."""
    engine = app.extensions["carebiz"].engine

    @event.listens_for(engine, "connect")
    def _short(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("PRAGMA busy_timeout = 200")
        else:
            cur.execute("SET lock_timeout = '200ms'")
        cur.close()

    engine.dispose()


def _hold_lock(app: Flask, party_id: int) -> Any:
    """Another connection that holds the write lock (SQLite) or the row (PostgreSQL)."""
    url = app.config["CAREBIZ_DATABASE_URL"]
    engine = create_engine(url)
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(text("SELECT id FROM party WHERE id = :id FOR UPDATE"), {"id": party_id})
    return engine, conn


def test_a_lock_timeout_answers_503_with_a_retry_message(app, seeded, api):
    party = api.post("/api/v1/customers", {"name": "Locked", "branch_id":
                                           seeded["branches"]["A"]}).json["id"]
    _short_lock_waits(app)
    engine, conn = _hold_lock(app, party)
    try:
        resp = api.patch(f"/api/v1/customers/{party}", {"city": "Busy"})
        assert resp.status_code == 503, resp.get_data(as_text=True)
        assert resp.json["status"] == "busy" and "try again" in resp.json["message"]
        assert resp.headers["Retry-After"] == str(concurrency.RETRY_AFTER)
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_a_form_saved_while_the_database_is_busy_keeps_what_was_typed(app, seeded):
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        party = parties.create_party(sess, {"name": "Form", "branch_id":
                                            seeded["branches"]["A"]})
        sess.commit()
    client = _logged_in(app, "admin")
    _short_lock_waits(app)
    engine, conn = _hold_lock(app, party.id)
    try:
        page = client.post(f"/customers/{party.id}/edit",
                           data=_customer_form(party, 1, city="Typed city"))
        assert page.status_code == 503
        html = page.get_data(as_text=True)
        assert "The database is busy" in html and 'value="Typed city"' in html
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_busy_errors_are_recognised():
    import sqlite3

    locked = OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))
    assert concurrency.is_busy(locked)
    other = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert not concurrency.is_busy(other)
    assert concurrency.if_match(None) is None and concurrency.if_match(" * ") is None
    assert concurrency.if_match('W/"3", "4"') == [3, 4]
    assert concurrency.if_match('"abc"') == [0]
    assert concurrency.parse_version("") is None and concurrency.parse_version("7") == 7


# --- 3. the import writes in batches and lets other writers in -----------------------------


@pytest.fixture
def env(app: Flask, seeded: dict[str, Any]) -> Any:
    with app.app_context():
        sess = app.extensions["carebiz"].session_factory()
        user = sess.scalar(select(User).where(User.username == "manager"))
        sess.info["actor"] = user
        yield sess, user
        sess.close()


def rows_csv(count: int, start: int = 0, vins: bool = True) -> importer.Table:
    lines = ["name,phone,vin,branch"] + [
        f"Bulk {i},139{i:08d},{valid_vin(20_000 + i) if vins else ''},A"
        for i in range(start, start + count)]
    return importer.read_table(("\n".join(lines) + "\n").encode(), "bulk.csv")


def committed_count(app: Flask, model: type) -> int:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return sess.scalar(select(func.count()).select_from(model))


@pytest.fixture
def whole_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches end by their row count only, however slow the machine."""
    monkeypatch.setattr(loop, "BATCH_SECONDS", 1000.0)


def test_a_batched_import_commits_batch_by_batch(app, env, whole_batches):
    sess, user = env
    commits: list[int] = []
    event.listen(sess, "after_commit", lambda s: commits.append(1))
    report = importer.import_table(sess, rows_csv(7), user=user, dry_run=False, batch_rows=3)
    assert report.committed and report.counts["create"] == 7 and report.counts["vehicles"] == 7
    assert report.imported_through == 8 and report.stopped_at is None
    assert len(commits) >= 3  # three write batches (the check pass commits nothing)
    assert committed_count(app, Party) == 7


def test_a_batched_dry_run_and_a_bad_file_write_nothing(app, env):
    sess, user = env
    audits = committed_count(app, AuditEntry)
    report = importer.import_table(sess, rows_csv(5), user=user, dry_run=True, batch_rows=2)
    assert report.valid and not report.committed and report.counts["create"] == 5
    table = rows_csv(5)
    table.rows[3][1][1] = "12"  # a bad phone in the second batch
    report = importer.import_table(sess, table, user=user, dry_run=False, batch_rows=2)
    assert not report.committed and report.bad_rows == 1 and report.imported_through is None
    assert "1 of 5 rows are not valid, so nothing was imported" in importer.failure_message(
        report)
    assert committed_count(app, Party) == 0 and committed_count(app, AuditEntry) == audits


def test_only_valid_commits_the_good_rows_of_every_batch(app, env):
    sess, user = env
    table = rows_csv(6)
    table.rows[1][1][1] = "12"
    table.rows[4][1][1] = "34"
    report = importer.import_table(sess, table, importer.Options(only_valid=True), user=user,
                                   dry_run=False, batch_rows=2)
    assert report.committed and report.counts["create"] == 4 and report.bad_rows == 2
    assert committed_count(app, Party) == 4


def test_a_slow_batch_ends_early(app, env, monkeypatch):
    """A batch also ends after BATCH_SECONDS, so other writers never wait long."""
    sess, user = env
    monkeypatch.setattr(loop, "BATCH_SECONDS", 0.0)
    commits: list[int] = []
    event.listen(sess, "after_commit", lambda s: commits.append(1))
    report = importer.import_table(sess, rows_csv(4), importer.Options(only_valid=True),
                                   user=user, dry_run=False, batch_rows=500)
    assert report.committed and report.counts["create"] == 4 and len(commits) >= 4


def test_an_import_that_fails_part_way_says_which_rows_were_written(app, env, whole_batches):
    """The check passes (a VIN repeated for another customer two batches later is not seen
    by the check's rolled-back batches), the writing pass meets it: the batch is rolled back
    and the report says which rows were imported."""
    sess, user = env
    table = rows_csv(6)
    table.rows[5][1][2] = table.rows[0][1][2]  # row 7 repeats row 2's VIN, another person
    report = importer.import_table(sess, table, user=user, dry_run=False, batch_rows=2)
    assert not report.committed
    assert report.imported_through == 5 and report.stopped_at == 7
    message = importer.failure_message(report)
    assert "stopped at row 7" in message and "rows up to row 5 were imported" in message
    assert "Row 7, vin:" in message
    assert committed_count(app, Party) == 4  # rows 2-5; rows 6-7 (their batch) rolled back


def test_the_import_job_reports_a_partial_import(app, seeded, monkeypatch, whole_batches):
    monkeypatch.setattr(loop, "BATCH_ROWS", 2)
    table = rows_csv(6)
    lines = ["name,phone,vin,branch"] + [",".join(cells) for _n, cells in table.rows]
    lines[-1] = lines[-1].replace(table.rows[5][1][2], table.rows[0][1][2])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, 'manager')}"}
    resp = client.post("/api/v1/import/customers", headers=headers,
                       data={"file": (io.BytesIO(("\n".join(lines) + "\n").encode()), "a.csv"),
                             "dry_run": "false"}, content_type="multipart/form-data")
    assert resp.status_code == 202
    job = client.get(f"/api/v1/jobs/{resp.json['id']}", headers=headers).json
    assert job["status"] == "failed"
    assert "rows up to row 5 were imported" in job["error"]
    assert committed_count(app, Party) == 4


def test_other_writers_keep_working_while_a_large_import_runs(app, seeded, monkeypatch):
    """Before, the import held SQLite's write lock for the whole file: another writer
    waited its busy timeout and failed ("database is locked", an HTML 500), or, when it got
    in first, every row of the import failed. Now the import writes in batches and lets
    waiting writers in between, so a writer that waits at most 5 s always gets through,
    and the import completes."""
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        target = parties.create_party(sess, {"name": "Busy", "branch_id":
                                             seeded["branches"]["A"]})
        sess.commit()
        target_id = target.id
    slow_row = RowImporter.row
    started = threading.Event()

    def row(self: Any, *args: Any) -> None:  # a slower machine: ~15 ms per row
        started.set()
        threading.Event().wait(0.015)
        slow_row(self, *args)

    monkeypatch.setattr(RowImporter, "row", row)
    outcome: dict[str, Any] = {}

    def run_import() -> None:
        with app.app_context(), ext.session_factory() as sess:
            try:
                outcome["report"] = importer.import_table(
                    sess, rows_csv(400, vins=False), user=None, dry_run=False, batch_rows=20)
            except Exception as exc:  # noqa: BLE001 - reported below
                outcome["error"] = exc
            started.set()

    worker = threading.Thread(target=run_import)
    worker.start()
    started.wait(30)
    other = create_engine(app.config["CAREBIZ_DATABASE_URL"],
                          connect_args={"timeout": 5} if PG_URL is None else {})
    failures = []
    writes = 0
    try:
        while worker.is_alive() and writes < 40:
            try:
                with other.begin() as conn:
                    conn.execute(update(Party).where(Party.id == target_id)
                                 .values(city=f"C{writes}", version=Party.version + 1))
            except OperationalError as exc:
                failures.append(str(exc.orig))
            writes += 1
            threading.Event().wait(0.05)
    finally:
        worker.join(300)
        other.dispose()
    assert failures == [] and writes >= 3
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert report.committed and report.counts["create"] == 400 and report.bad_rows == 0
    assert committed_count(app, Party) == 401


def test_an_import_that_cannot_get_the_lock_fails_with_a_clear_message(app, seeded):
    if PG_URL:
        pytest.skip("PostgreSQL writers do not share one lock")
    _short_lock_waits(app)
    holder = create_engine(app.config["CAREBIZ_DATABASE_URL"])
    conn = holder.connect()
    try:
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(concurrency.Busy) as caught:
                importer.import_table(sess, rows_csv(3), dry_run=False, batch_rows=2)
            assert caught.value.status == 503 and "busy" in caught.value.message
    finally:
        conn.rollback()
        conn.close()
        holder.dispose()
    assert committed_count(app, Party) == 0


# --- 2. the same pattern on other editable core records ------------------------------------


def test_a_stale_branch_form_is_refused(app, seeded):
    branch = seeded["branches"]["B"]
    admin, manager = _logged_in(app, "admin"), _logged_in(app, "admin")
    page = admin.get(f"/admin/branches/{branch}").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in page
    form = {"code": "B", "name": "Branch B", "address": "", "phone": "", "active": "y",
            "version": "1"}
    assert manager.post(f"/admin/branches/{branch}",
                        data={**form, "phone": "021-1234"}).status_code == 302
    stale = admin.post(f"/admin/branches/{branch}", data={**form, "name": "Branch Bee"})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Phone" in html and "now on file: 021-1234" in html and 'value="Branch Bee"' in html
    assert 'name="version" type="hidden" value="2"' in html
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        from carebiz.models import Branch

        assert sess.get(Branch, branch).name == "Branch B"


def test_a_saved_query_refuses_a_stale_version(app, seeded, api):
    made = api.post("/api/v1/query/saved", {"source": "customers", "name": "Mine"})
    assert made.status_code == 201, made.json
    url = f"/api/v1/query/saved/{made.json['id']}"
    got = api.get(url)
    assert got.headers["ETag"] == '"1"' and got.json["version"] == 1
    first = api.client.put(url, json={"name": "Renamed", "version": 1}, headers=api.headers)
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    stale = api.client.put(url, json={"name": "Other"}, headers={**api.headers,
                                                                 "If-Match": '"1"'})
    assert stale.status_code == 409 and stale.json["current_version"] == 2
    assert api.client.put(url, json={"name": "Legacy"}, headers=api.headers).status_code == 200
    assert api.get(url).json["name"] == "Legacy"


def test_a_stale_document_template_form_is_refused(app, seeded):
    url = "/documents/templates/customer_statement"
    admin, other = _logged_in(app, "admin"), _logged_in(app, "admin")

    def save(client: Any, version: str, **data: Any) -> Any:
        form = {"body": "", "terms": "", "colour": "", "version": version, **data}
        return client.post(url, data=form, content_type="multipart/form-data")

    assert save(admin, "", terms="Pay in 30 days").status_code == 302
    assert 'value="1"' in admin.get(url).get_data(as_text=True)
    assert save(other, "1", colour="#112233").status_code == 302
    stale = save(admin, "1", terms="Pay in 10 days")
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Accent colour" in html and "now on file: #112233" in html
    assert "Pay in 10 days" in html
