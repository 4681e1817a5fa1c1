"""Customer search by what people remember (issue 10), tested without HTTP: a phone's last
digits and a run of its digits, a plate without its province character or with O/0 and I/1
mixed up, any later part of a name, pinyin initials, a VIN's last 6; exact before partial,
own branch first; branch privacy for every new kind of match; the keys kept on every write
path (services, merge) and filled by the migration for rows already there."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from carebiz.crm import search_keys as keys
from carebiz.crm.models import PartyNamePart, PartyPhone, Vehicle
from carebiz.crm.services import lookup, merge, parties
from carebiz.models import User
from carebiz.testing import make_customer, make_user, make_vehicle, valid_vin


@pytest.fixture
def ctx(app, seeded):
    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        users = {name: sess.get(User, uid) for name, uid in seeded["users"].items()}
        yield sess, users, seeded["branches"]


def ids(sess, user, q, limit=20):
    return [h.party.id for h in lookup.lookup(sess, user, q, limit=limit)]


def reasons(sess, user, q):
    return {h.party.id: h.reasons for h in lookup.lookup(sess, user, q)}


# -- the keys ------------------------------------------------------------------------------------


def test_keys():
    assert keys.digits_reversed("+8613800132927") == "7292310083168"
    assert keys.plate_key("沪A·4W9XT") == keys.plate_key("a4w9xt") == "A4W9XT"
    assert keys.plate_key("粤BO1I23") == "B01123"
    assert keys.plate_key(None) is None
    assert keys.vin_reversed("lsvab4br0e1234567") == "7654321E0RB4BAVSL"
    assert keys.name_parts("Ava  Thomas") == ["thomas"]
    assert keys.name_parts("王建国") == ["建国", "国"]
    assert keys.name_parts("Ava") == []
    assert keys.name_initials("王建国") == "wjg"
    assert keys.name_initials("Ava Thomas") is None


# -- each kind of match --------------------------------------------------------------------------


def test_phone_by_its_tail_and_by_a_run_of_digits(ctx):
    sess, users, branches = ctx
    ann = make_customer(sess, "Ann", branches["A"], phones=["13800132927"])
    bob = make_customer(sess, "Bob", branches["A"], phones=["13911112927", "13655550000"])
    sess.commit()
    sales = users["sales"]
    assert sorted(ids(sess, sales, "2927")) == sorted([ann.id, bob.id])
    assert ids(sess, sales, "32927") == [ann.id]
    assert ids(sess, sales, "0013 2927") == [ann.id]  # as read out, with a space
    assert ids(sess, sales, "292") == []  # 3 digits: too short to mean a number
    # a run in the middle, 7 digits or more
    assert ids(sess, sales, "8001329") == [ann.id]
    assert ids(sess, sales, "5555000") == [bob.id]
    assert ids(sess, sales, "800132") == []  # 6 digits inside: not searched
    assert reasons(sess, sales, "2927")[ann.id] == ["phone_tail"]
    assert "phone_part" in reasons(sess, sales, "8001329")[ann.id]


def test_plate_without_province_and_with_confusions(ctx):
    sess, users, branches = ctx
    ava = make_customer(sess, "Ava Thomas", branches["A"])
    car = make_vehicle(sess, 12, branches["A"], owner_id=ava.id, plate="沪A4W9XT")
    sess.commit()
    sales = users["sales"]
    assert ids(sess, sales, "A4W9XT") == [ava.id]
    assert ids(sess, sales, "a4w9xt") == [ava.id]
    assert ids(sess, sales, "沪A4W9XT") == [ava.id]
    assert car.plate_key == "A4W9XT"
    olga = make_customer(sess, "Olga", branches["A"])
    make_vehicle(sess, 23, branches["A"], owner_id=olga.id, plate="京B01123")
    sess.commit()
    assert ids(sess, sales, "BO1I23") == [olga.id]  # O for 0, I for 1
    assert ids(sess, sales, "京BO1I23") == [olga.id]
    # the vehicles' own search finds the car too
    assert [v.id for v in lookup.find_vehicles(sess, sales, "A4W9XT")] == [car.id]


def test_names_by_any_part_and_by_pinyin_initials(ctx):
    sess, users, branches = ctx
    ava = make_customer(sess, "Ava Thomas", branches["A"])
    wang = make_customer(sess, "王建国", branches["A"])
    make_customer(sess, "Thomasina Li", branches["A"])
    sess.commit()
    sales = users["sales"]
    assert ava.id in ids(sess, sales, "Thomas")
    assert ids(sess, sales, "thom")[-1] == ava.id  # a name's start ranks above a later part
    assert ids(sess, sales, "建国") == [wang.id]
    assert ids(sess, sales, "国") == [wang.id]
    assert ids(sess, sales, "wjg") == [wang.id]
    assert ids(sess, sales, "wj") == [wang.id]
    assert reasons(sess, sales, "wjg")[wang.id] == ["name_initials"]
    # a renamed customer is found by the new name's parts only
    parties.update_party(sess, ava, {"name": "Ava Jones"})
    sess.commit()
    assert ava.id not in ids(sess, sales, "Thomas")
    assert ids(sess, sales, "Jones") == [ava.id]
    assert sess.scalars(select(PartyNamePart.key).where(
        PartyNamePart.party_id == ava.id)).all() == ["jones"]


def test_vin_by_its_last_six(ctx):
    sess, users, branches = ctx
    ava = make_customer(sess, "Ava", branches["A"])
    vin = valid_vin(42)
    car = make_vehicle(sess, 42, branches["A"], owner_id=ava.id)
    sess.commit()
    sales = users["sales"]
    assert ids(sess, sales, vin[-6:]) == [ava.id]
    assert ids(sess, sales, vin[-8:].lower()) == [ava.id]
    assert ids(sess, sales, vin) == [ava.id]
    assert [v.id for v in lookup.find_vehicles(sess, sales, vin[-6:])] == [car.id]


# -- ranking ---------------------------------------------------------------------------------


def test_exact_before_partial_then_own_branch_then_name(ctx):
    sess, users, branches = ctx
    # the same tail for three people; one of them has the whole number typed
    exact = make_customer(sess, "Zed", branches["B"], phones=["13800002927"])
    mine = make_customer(sess, "Yan", branches["B"], phones=["13811112927"])
    theirs = make_customer(sess, "Abe", branches["A"], phones=["13822222927"])
    # a manager of branch B who sees every branch
    boss = make_user(sess, "boss_b", roles=["manager"], branches=["B"], all_branches=True)
    sess.commit()
    assert ids(sess, boss, "2927") == [mine.id, exact.id, theirs.id]  # B first, then names
    assert ids(sess, boss, "138 0000 2927") == [exact.id]  # the whole number
    assert ids(sess, users["admin"], "2927") == [theirs.id, mine.id, exact.id]  # by name
    # the limit keeps the own branch's candidates: they are read first
    for k in range(5):
        make_customer(sess, f"Aaron {k}", branches["A"], phones=[f"139666{k}2927"])
    sess.commit()
    assert ids(sess, boss, "2927", limit=2)[:2] == [mine.id, exact.id]


# -- privacy ---------------------------------------------------------------------------------


def test_new_matches_never_show_another_branchs_customers(ctx):
    sess, users, branches = ctx
    other = make_customer(sess, "王建国", branches["B"], phones=["13800132927"])
    make_vehicle(sess, 7, branches["B"], owner_id=other.id, plate="沪A4W9XT")
    sess.commit()
    sales, admin = users["sales"], users["admin"]
    for q in ("2927", "8001329", "A4W9XT", "建国", "wjg", valid_vin(7)[-6:]):
        assert ids(sess, sales, q) == [], q
        assert ids(sess, admin, q) == [other.id], q


def test_merged_records_are_not_found_by_partial_matches(ctx):
    sess, users, branches = ctx
    keep = make_customer(sess, "王建国", branches["A"], phones=["13800132927"])
    gone = make_customer(sess, "王建国", branches["A"], phones=["13911110000"])
    sess.commit()
    merge.merge_parties(sess, keep, gone)
    sess.commit()
    sales = users["sales"]
    assert ids(sess, sales, "wjg") == [keep.id]
    assert ids(sess, sales, "1110000") == [keep.id]  # the merged phone moved with its key
    assert ids(sess, sales, "0000") == [keep.id]
    phones = sess.scalars(select(PartyPhone).where(PartyPhone.party_id == keep.id)).all()
    assert {p.digits_rev for p in phones} == {keys.digits_reversed(p.e164) for p in phones}


# -- the migration fills the keys of rows already there ------------------------------------------


def test_migration_backfills_existing_rows(make_app):
    from carebiz import migrate

    app = make_app(schema=False, CAREBIZ_PLUGINS="none")
    migrate.upgrade(app, "core_0009_pending_merges")
    engine = app.extensions["carebiz"].engine
    stamp = "'2026-01-01 00:00:00', '2026-01-01 00:00:00'"
    with engine.begin() as conn:  # rows as version 0009 held them, before the keys existed
        conn.execute(text("INSERT INTO branch (id, code, name, address, phone, active, "
                          f"version, created_at, updated_at) VALUES (1, 'A', 'A', '', '', "
                          f"true, 1, {stamp})"))
        conn.execute(text(
            "INSERT INTO party (id, kind, name, name_key, source, province, city, district, "
            "street, postal_code, do_not_contact, notes, custom, active, version, branch_id, "
            "created_at, updated_at) VALUES (1, 'person', '王建国', '王建国', '', '', '', '', "
            f"'', '', false, '', '{{}}', true, 1, 1, {stamp})"))
        conn.execute(text("INSERT INTO party_phone (id, party_id, e164, label, position) "
                          "VALUES (1, 1, '+8613800132927', '', 0)"))
        conn.execute(text(
            "INSERT INTO vehicle (id, vin, plate, make, model, colour, engine_number, custom, "
            "notes, owner_id, version, branch_id, created_at, updated_at) VALUES (1, :vin, "
            f"'沪A4W9XT', '', '', '', '', '{{}}', '', 1, 1, 1, {stamp})"),
            {"vin": valid_vin(3)})
    migrate.upgrade(app)
    assert migrate.differences(app, "core") == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name_initials FROM party")).scalar() == "wjg"
        assert conn.execute(text("SELECT key FROM party_name_part ORDER BY key")).scalars() \
            .all() == sorted(["建国", "国"])
        assert conn.execute(text("SELECT digits_rev FROM party_phone")).scalar() \
            == "7292310083168"
        assert conn.execute(text("SELECT plate_key, vin_rev FROM vehicle")).one() \
            == ("A4W9XT", valid_vin(3)[::-1])
    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        assert ids(sess, None, "8001329") == []  # nobody signed in sees nothing
        found = sess.scalars(select(PartyPhone.party_id).where(
            lookup.phone_run("8001329", engine.dialect.name))).all()
        assert found == [1]  # the trigram index holds the row written before it existed
        assert sess.scalar(select(Vehicle.id).where(Vehicle.plate_key == "A4W9XT")) == 1


def test_partial_candidates_come_in_index_order_without_a_sort(ctx):
    """On PostgreSQL the search-key indexes use text_pattern_ops: the partial matches must be
    ordered the way that index keeps them (``USING ~<~``), or a common name part ("wang…")
    reads and sorts every match before its LIMIT — the long tail at a million customers."""
    sess, users, branches = ctx
    if sess.get_bind().dialect.name != "postgresql":
        pytest.skip("the plan question is PostgreSQL's (set CAREBIZ_TEST_DATABASE_URL)")
    for n in range(5):
        make_customer(sess, f"Ava Thomas{n}", branches["A"])
    sess.commit()
    seen: list[str] = []
    from sqlalchemy import event

    conn = sess.connection()

    def keep(_conn, _cursor, statement, _params, _context, _many):
        if "party_name_part" in statement and "LIMIT" in statement:
            seen.append(statement)
    event.listen(conn, "before_cursor_execute", keep)
    try:
        found = ids(sess, users["admin"], "thomas")
    finally:
        event.remove(conn, "before_cursor_execute", keep)
    assert len(found) == 5 and seen
    assert all("USING ~<~" in sql for sql in seen)
    sess.execute(text("SET LOCAL enable_seqscan = off"))
    sess.execute(text("SET LOCAL enable_bitmapscan = off"))
    plan = "\n".join(sess.execute(text(
        "EXPLAIN SELECT party_id FROM party_name_part WHERE key LIKE 'thomas%' "
        "ORDER BY party_name_part.key USING ~<~ LIMIT 20")).scalars())
    assert "Index Scan" in plan and "Sort" not in plan, plan
