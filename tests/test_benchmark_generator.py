"""The CRM benchmark data generator (benchmarks/crm_data.py) on a tiny scale: exact counts,
rows that pass the CRM validators (E.164 phones, VIN check digits, plates, e-mails, ID
numbers), the 20-vehicle/2,000-entry overview customer, foreign keys, reproducibility, and a
smoke run of the measurement script (benchmarks/crm_lookup.py) on the result."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from carebiz.crm import validation as v
from carebiz.crm.services.parties import name_key

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
PG_URL = os.environ.get("CAREBIZ_TEST_DATABASE_URL")
SIZES = {"customers": 200, "vehicles": 300, "entries": 5000, "branches": 3}


def load(name: str) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # crm_lookup imports crm_data by name
    spec.loader.exec_module(module)
    return module


crm_data = load("crm_data")


def generate(url: str, tmp: Path, **extra: Any) -> dict[str, Any]:
    return crm_data.generate(url, **{**SIZES, "seed": 3, "batch": 64, **extra},
                             log=lambda _line: None, instance=str(tmp / "instance"))


@pytest.fixture(scope="module", params=[
    "sqlite",
    pytest.param("postgres", marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(not PG_URL, reason="CAREBIZ_TEST_DATABASE_URL not set")]),
])
def generated(request: Any, tmp_path_factory: Any) -> Iterator[tuple[str, dict, Engine]]:
    tmp = tmp_path_factory.mktemp(f"bench-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'crm.db'}"
    else:
        from tests.conftest import reset_postgres

        url = PG_URL
        reset_postgres(url)
    info = generate(url, tmp)
    engine = create_engine(url)
    yield url, info, engine
    engine.dispose()


def rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def test_counts_are_exact(generated: Any) -> None:
    _url, info, engine = generated
    counts = {t: rows(engine, f"SELECT count(*) FROM {t}")[0][0] for t in crm_data.BIG_TABLES}
    assert counts["party"] == 200
    assert counts["vehicle"] == 300
    assert counts["timeline_entry"] == 5000
    assert counts == info["rows"]
    assert rows(engine, "SELECT count(*) FROM branch")[0][0] == 3
    assert rows(engine, "SELECT count(*) FROM party p WHERE NOT EXISTS "
                        "(SELECT 1 FROM party_phone f WHERE f.party_id = p.id)")[0][0] == 0
    assert rows(engine, "SELECT count(*) FROM party p WHERE NOT EXISTS "
                        "(SELECT 1 FROM party_role r WHERE r.party_id = p.id)")[0][0] == 0
    # every vehicle has its current ownership, and the owner's branch
    assert rows(engine, "SELECT count(*) FROM vehicle_ownership WHERE until IS NULL")[0][0] == 300
    assert rows(engine, "SELECT count(*) FROM vehicle v JOIN party p ON p.id = v.owner_id "
                        "WHERE v.branch_id <> p.branch_id")[0][0] == 0
    kinds = {k for (k,) in rows(engine, "SELECT DISTINCT kind FROM party")}
    assert kinds == {"person", "organization"}


def test_phones_are_valid_unique_mainland_mobiles(generated: Any) -> None:
    phones = [p for (p,) in rows(generated[2], "SELECT e164 FROM party_phone")]
    assert len(set(phones)) == len(phones) >= 200
    for phone in phones:
        assert phone.startswith("+861")
        assert v.normalize_phone(phone) == phone
        assert v.normalize_phone(phone[3:], "CN") == phone  # as typed without +86


def test_vins_have_check_digits_and_are_unique(generated: Any) -> None:
    vins = [x for (x,) in rows(generated[2], "SELECT vin FROM vehicle")]
    assert len(set(vins)) == len(vins) == 300
    for vin in vins:
        assert v.validate_vin(vin) == vin
        assert vin[8] == v.vin_check_digit(vin)


def test_plates_are_valid_and_unique(generated: Any) -> None:
    plates = [p for (p,) in rows(generated[2], "SELECT plate FROM vehicle")]
    registered = [p for p in plates if p is not None]
    assert len(registered) > 250
    assert len(set(registered)) == len(registered)
    for plate in registered:
        assert v.normalize_plate(plate, "CN") == plate
    assert any(v.is_new_energy_plate(p) for p in registered)


def test_names_emails_and_identity_numbers(generated: Any) -> None:
    parties = rows(generated[2], "SELECT name, name_key, id_kind, id_number, birthday, gender "
                                 "FROM party")
    assert any("\u4e00" <= p.name[0] <= "\u9fff" for p in parties)
    assert any(p.name[0].isascii() for p in parties)
    with_id = 0
    for p in parties:
        assert p.name_key == name_key(p.name)
        if p.id_number:
            with_id += 1
            assert v.validate_id_number(p.id_kind, p.id_number) == p.id_number
            if p.id_kind == "cn_resident":
                assert str(p.birthday).replace("-", "") == p.id_number[6:14]
                assert p.gender == ("male" if int(p.id_number[16]) % 2 else "female")
    assert with_id > 40
    emails = [e for (e,) in rows(generated[2], "SELECT email FROM party_email")]
    assert emails and len(set(emails)) == len(emails)
    assert all(v.normalize_email(e) == e for e in emails)


def test_overview_customer_has_20_vehicles_and_2000_entries(generated: Any) -> None:
    _url, info, engine = generated
    assert len(info["overview_party_ids"]) == 1
    pid = info["overview_party_ids"][0]
    assert rows(engine, f"SELECT count(*) FROM vehicle WHERE owner_id = {pid}")[0][0] == 20
    assert rows(engine, f"SELECT count(*) FROM timeline_entry WHERE party_id = {pid}")[0][0] \
        == 2000
    # the entries' vehicles are the customer's own, and the customer is in the first branch
    assert rows(engine, f"SELECT count(*) FROM timeline_entry e JOIN vehicle v ON "
                        f"v.id = e.vehicle_id WHERE e.party_id = {pid} AND v.owner_id <> {pid}"
                ) == [(0,)]
    assert rows(engine, f"SELECT branch_id FROM party WHERE id = {pid}") == [
        (info["branch_ids"][0],)]
    # skewed: some customer has far more entries than the median one
    assert info["heaviest_entry_counts"][0] >= 5 * sorted(
        n for (n,) in rows(engine, "SELECT count(*) FROM timeline_entry GROUP BY party_id")
    )[100]


def test_timeline_is_in_time_order_with_open_followups(generated: Any) -> None:
    engine = generated[2]
    times = [t for (t,) in rows(engine, "SELECT occurred_at FROM timeline_entry ORDER BY id")]
    assert times == sorted(times)
    statuses = dict(rows(engine, "SELECT status, count(*) FROM timeline_entry "
                                 "WHERE kind IN ('task', 'return_visit') GROUP BY status"))
    assert statuses.get("open") and statuses.get("done")
    assert rows(engine, "SELECT count(*) FROM timeline_entry WHERE kind IN "
                        "('task', 'return_visit') AND (due_at IS NULL OR assignee_id IS NULL)"
                ) == [(0,)]


def test_foreign_keys_and_schema(generated: Any) -> None:
    url, _info, engine = generated
    if url.startswith("sqlite"):
        assert rows(engine, "PRAGMA foreign_key_check") == []
        assert rows(engine, "PRAGMA journal_mode") == [("wal",)]
    # (PostgreSQL validated every foreign key when the generator added them back; the
    # generator also compared the schema with the migrations and would have failed)
    assert rows(engine, "SELECT count(*) FROM timeline_entry e LEFT JOIN party p ON "
                        "p.id = e.party_id WHERE p.id IS NULL") == [(0,)]


def test_same_seed_gives_same_rows(generated: Any, tmp_path: Path) -> None:
    url, _info, engine = generated
    again = f"sqlite:///{tmp_path / 'again.db'}"
    generate(again, tmp_path, batch=1000)  # a different batch size changes nothing
    other = create_engine(again)
    try:
        for sql in ("SELECT id, name, branch_id, id_number FROM party ORDER BY id",
                    "SELECT id, party_id, e164 FROM party_phone ORDER BY id",
                    "SELECT id, vin, plate, owner_id FROM vehicle ORDER BY id",
                    "SELECT id, party_id, vehicle_id, kind, status FROM timeline_entry "
                    "ORDER BY id"):
            assert digest(rows(engine, sql)) == digest(rows(other, sql)), sql
    finally:
        other.dispose()


def digest(result: list[Any]) -> str:
    return hashlib.sha256(repr([tuple(r) for r in result]).encode()).hexdigest()


def test_lookup_benchmark_runs_on_the_generated_data(generated: Any, tmp_path: Path,
                                                     capsys: Any) -> None:
    url = generated[0]
    crm_lookup = load("crm_lookup")
    out = tmp_path / "figures.json"
    crm_lookup.main(["--url", url, "--probes", "10", "--warmup", "2", "--plans", "slow",
                     "--json", str(out)])
    figures = json.loads(out.read_text())
    by_probe = {(r["user"], r["probe"]): r for r in figures["results"]}
    assert by_probe[("admin", "lookup phone (typed)")]["found"] == 1
    assert by_probe[("admin", "lookup VIN")]["found"] == 1
    assert by_probe[("admin", "lookup plate")]["found"] == 1
    assert by_probe[("admin", "lookup name (no match)")]["found"] == 0
    assert by_probe[("admin", "overview 20 veh/2,000 entries")]["results"] == 40
    assert by_probe[("branch", "overview 20 veh/2,000 entries")]["results"] == 40
    assert all(r["sql_max"] > 0 for r in figures["results"])
    assert "p95 ms" in capsys.readouterr().out
