"""CRM business rules, tested without HTTP: parties, duplicates, vehicles, ownership,
odometer, timeline and follow-ups, value and segments, merge, lookup, recent trail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from carebiz.crm.models import (
    OdometerReading,
    Party,
    PartyValue,
    TimelineEntry,
    Vehicle,
    VehicleOwnership,
)
from carebiz.crm.services import lookup, merge, parties, recent, timeline, value, vehicles
from carebiz.crm.validation import vin_check_digit
from carebiz.errors import Conflict, ValidationFailed
from carebiz.models import AuditEntry, User

NOW = dt.datetime.now(dt.UTC)


def make_vin(serial: int, wmi: str = "LSV") -> str:
    body = f"{wmi}AB4BR0E{serial:07d}"[:17]
    body = body[:8] + "0" + body[9:]
    return body[:8] + vin_check_digit(body) + body[9:]


@pytest.fixture
def ctx(app, seeded):
    """A session inside a request context, and the seeded users."""
    with app.test_request_context():
        from carebiz import db

        sess = db.session()
        users = {name: sess.get(User, uid) for name, uid in seeded["users"].items()}
        yield sess, users, seeded["branches"]


def person(sess, name="王伟", phone="13800138000", branch=None, **extra):
    """A person in ``branch`` (default: branch A)."""
    from carebiz.models import Branch

    if branch is None:
        branch = sess.scalar(select(Branch.id).where(Branch.code == "A"))
    data = {"name": name, "phones": [phone] if phone else [], "branch_id": branch, **extra}
    return parties.create_party(sess, data, allow_duplicates=True)


def test_create_normalises_and_audits(ctx):
    sess, users, branches = ctx
    sess.info["actor"] = users["sales"]  # as the web layer's logged-in user would be
    party = parties.create_party(sess, {
        "name": "  Li   Wei ", "phones": ["138 0013 8000", "(010) 6588 0000"],
        "emails": ["Li.Wei@Example.CN"], "roles": ["customer", "agent"], "tags": ["VIP"],
        "id_number": "110101199003071233", "branch_id": branches["A"]}, user=users["sales"])
    sess.commit()
    assert party.name == "Li Wei" and party.name_key == "liwei"
    assert party.phone_numbers == ["+8613800138000", "+861065880000"]
    assert party.email_addresses == ["li.wei@example.cn"]  # compared without case
    assert party.roles == ["agent", "customer"] and party.id_kind == "cn_resident"
    entry = sess.scalars(select(AuditEntry).where(AuditEntry.event == "customer.created")).one()
    assert entry.actor_name == "sales" and entry.branch_id == branches["A"]


def test_all_field_errors_at_once(ctx):
    sess, users, branches = ctx
    with pytest.raises(ValidationFailed) as info:
        parties.create_party(sess, {"name": "", "phones": ["12345"], "emails": ["nope"],
                                    "roles": ["pilot"], "id_number": "110101199003071234",
                                    "branch_id": branches["A"]})
    assert set(info.value.errors) == {"name", "phones", "emails", "roles", "id_number"}
    assert "check digit" in info.value.errors["id_number"]


def test_branch_access_is_checked(ctx):
    sess, users, branches = ctx
    with pytest.raises(ValidationFailed) as info:  # reported with the other field errors
        parties.create_party(sess, {"name": "X", "branch_id": branches["B"]},
                             user=users["sales"])
    assert "branch_id" in info.value.errors
    party = parties.create_party(sess, {"name": "X"}, user=users["sales"])
    assert party.branch_id == branches["A"]  # the user's default branch


def test_duplicates_warn_with_links_and_can_be_confirmed(ctx):
    sess, users, branches = ctx
    first = person(sess, branch=branches["A"], emails=["wang@example.cn"])
    with pytest.raises(parties.DuplicateWarning) as info:
        parties.create_party(sess, {"name": "王 伟", "phones": ["+86 138-0013-8000"],
                                    "branch_id": branches["A"]})
    assert info.value.status == 409
    assert info.value.details["duplicates"][0]["id"] == first.id
    assert "phones" in info.value.errors
    second = parties.create_party(sess, {"name": "王伟", "phones": ["13800138000"],
                                         "branch_id": branches["A"]}, allow_duplicates=True)
    assert second.id != first.id
    with pytest.raises(parties.DuplicateWarning):  # on edit too
        parties.update_party(sess, second, {"emails": ["WANG@example.cn"]})


def test_custom_fields_are_validated(ctx):
    from carebiz.crm.services import custom_fields

    sess, users, branches = ctx
    custom_fields.define(sess, "party", "wechat_id", "WeChat ID", "text", required=True)
    custom_fields.define(sess, "party", "budget", "Budget", "number")
    custom_fields.define(sess, "party", "channel", "Channel", "choice", ["web", "walk-in"])
    with pytest.raises(ValidationFailed) as info:
        parties.create_party(sess, {"name": "A", "branch_id": branches["A"],
                                    "custom": {"budget": "lots", "channel": "fax"}})
    assert set(info.value.errors) == {"custom.wechat_id", "custom.budget", "custom.channel"}
    party = parties.create_party(sess, {"name": "A", "branch_id": branches["A"], "custom": {
        "wechat_id": "wx123", "budget": "250,000", "channel": "web"}})
    assert party.custom == {"wechat_id": "wx123", "budget": "250000", "channel": "web"}


def test_vehicle_vin_plate_and_conflict(ctx):
    sess, users, branches = ctx
    owner = person(sess, branch=branches["A"])
    vin = make_vin(1)
    car = vehicles.create_vehicle(sess, {"vin": vin.lower(), "plate": "京a·12345",
                                         "owner_id": owner.id, "branch_id": branches["A"],
                                         "year": 2022, "make": "BYD", "model": "Han"})
    assert (car.vin, car.plate) == (vin, "京A12345")
    bad = vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]
    with pytest.raises(ValidationFailed) as info:
        vehicles.create_vehicle(sess, {"vin": bad, "branch_id": branches["A"]})
    assert "check digit" in info.value.errors["vin"]
    with pytest.raises(Conflict, match="registered already"):
        vehicles.create_vehicle(sess, {"vin": vin, "branch_id": branches["A"]})


def test_vin_check_digit_setting(ctx, app):
    from carebiz.services import settings

    sess, users, branches = ctx
    settings.set_value(sess, app.extensions["carebiz"].host, "crm.vin_check_digit", False)
    car = vehicles.create_vehicle(sess, {"vin": "WVWZZZ1JZXW000001", "branch_id": branches["A"]})
    assert car.vin == "WVWZZZ1JZXW000001"


def test_ownership_history_follows_the_vin(ctx):
    sess, users, branches = ctx
    first, second = person(sess, "张三", "13900139000"), person(sess, "李四", "13700137000")
    car = vehicles.create_vehicle(sess, {"vin": make_vin(2), "owner_id": first.id,
                                         "owner_since": "2020-05-01",
                                         "branch_id": branches["A"]})
    timeline.add_entry(sess, first, "visit", vehicle=car, subject="first owner service")
    with pytest.raises(ValidationFailed):
        vehicles.change_owner(sess, car, second, dt.date(2019, 1, 1))
    vehicles.change_owner(sess, car, second, dt.date(2024, 3, 1))
    sess.commit()
    history = vehicles.ownerships(sess, car.id)
    assert [(o.party_id, o.since, o.until) for o in history] == [
        (second.id, dt.date(2024, 3, 1), None),
        (first.id, dt.date(2020, 5, 1), dt.date(2024, 3, 1))]
    # the vehicle keeps its record; the new owner's timeline holds only their own entries
    assert sess.scalar(select(func.count()).select_from(TimelineEntry)
                       .where(TimelineEntry.vehicle_id == car.id)) == 1
    assert sess.scalars(timeline.entries_for(second.id)).all() == []


def test_odometer_rules(ctx):
    sess, users, branches = ctx
    car = vehicles.create_vehicle(sess, {"vin": make_vin(3), "branch_id": branches["A"]})
    vehicles.record_odometer(sess, car, 10_000, NOW - dt.timedelta(days=30))
    vehicles.record_odometer(sess, car, 12_500, NOW - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed, match="lower than the previous reading"):
        vehicles.record_odometer(sess, car, 9_000, NOW)
    with pytest.raises(ValidationFailed, match="higher than a later reading"):
        vehicles.record_odometer(sess, car, 13_000, NOW - dt.timedelta(days=10))
    with pytest.raises(ValidationFailed):
        vehicles.record_odometer(sess, car, "abc", NOW)
    vehicles.record_odometer(sess, car, 5, NOW, meter_replaced=True)
    assert car.odometer_km == 5
    assert sess.scalar(select(func.count()).select_from(OdometerReading)) == 3


def test_followups_my_day_and_satisfaction(ctx):
    sess, users, branches = ctx
    party = person(sess, branch=branches["A"])
    due = timeline.add_entry(sess, party, "return_visit", subject="回访", user=users["sales"],
                             due_at=NOW - dt.timedelta(hours=2))
    timeline.add_entry(sess, party, "task", subject="later", user=users["sales"],
                       due_at=NOW + dt.timedelta(days=3))
    with pytest.raises(ValidationFailed) as info:
        timeline.add_entry(sess, party, "task", subject="no date")
    assert "due date" in info.value.errors["due_at"]
    with pytest.raises(ValidationFailed) as info:
        timeline.add_entry(sess, party, "telepathy")
    assert "Unknown kind" in info.value.errors["kind"]
    end_of_today = NOW.replace(hour=23, minute=59)
    mine = sess.scalars(timeline.my_day(users["sales"], today_end=end_of_today)).all()
    assert [e.id for e in mine] == [due.id]
    timeline.complete_followup(sess, due, outcome="满意", satisfaction=4, user=users["sales"])
    with pytest.raises(Conflict):
        timeline.complete_followup(sess, due, satisfaction=5)
    assert sess.get(PartyValue, party.id).satisfaction == Decimal("4.00")
    assert sess.scalars(timeline.my_day(users["sales"], today_end=end_of_today)).all() == []


def test_revenue_value_and_segments(ctx):
    sess, users, branches = ctx
    big, small = person(sess, "大客户", "13800138001"), person(sess, "小客户", "13800138002")
    today = dt.date.today()
    assert value.record_revenue(sess, party_id=big.id, amount="250000.00", currency="cny",
                                occurred_on=today, source="sales", ref="SO-1") is not None
    assert value.record_revenue(sess, party_id=big.id, amount="250000.00", currency="CNY",
                                occurred_on=today, source="sales", ref="SO-1") is None
    value.record_revenue(sess, party_id=big.id, amount="800", currency="CNY",
                         occurred_on=today, source="repair", ref="RO-9")
    value.record_revenue(sess, party_id=small.id, amount="300", currency="CNY",
                         occurred_on=today - dt.timedelta(days=400), source="repair",
                         ref="RO-1")
    with pytest.raises(ValidationFailed, match="USD"):  # no rate: an error, never 1:1
        value.record_revenue(sess, party_id=big.id, amount="10", currency="USD",
                             occurred_on=today, source="x", ref="1")
    from carebiz.currency.rates import add_rate

    add_rate(sess, "USD", "CNY", "7.1", today - dt.timedelta(days=10))
    event = value.record_revenue(sess, party_id=small.id, amount="10", currency="USD",
                                 occurred_on=today, source="x", ref="2")
    assert (event.amount, event.currency, event.base_amount) == (Decimal("10"), "USD",
                                                                 Decimal("71.00"))
    assert value.refresh_scores(sess) == 2
    v_big, v_small = sess.get(PartyValue, big.id), sess.get(PartyValue, small.id)
    assert v_small.lifetime_value == Decimal("371.00")  # 300 CNY + 10 USD at 7.1
    assert v_big.lifetime_value == Decimal("250800") and v_big.purchases == 2
    assert v_big.segment != v_small.segment
    assert value.segment_of(5, 5, 5) == "champion" and value.segment_of(1, 3, 3) == "lost"


def test_merge_moves_everything(ctx):
    sess, users, branches = ctx
    keep = person(sess, "王伟", "13800138000", branches["A"], roles=["customer"])
    gone = person(sess, "王 伟", "13900139000", branches["A"], roles=["prospect"],
                  id_number="110101199003071233", tags=["VIP"])
    car = vehicles.create_vehicle(sess, {"vin": make_vin(4), "owner_id": gone.id,
                                         "branch_id": branches["A"]})
    timeline.add_entry(sess, gone, "call", subject="old call")
    value.record_revenue(sess, party_id=gone.id, amount="100", currency="CNY",
                         occurred_on=dt.date.today(), source="s", ref="1")
    value.record_revenue(sess, party_id=keep.id, amount="50", currency="CNY",
                         occurred_on=dt.date.today(), source="s", ref="2")
    merge.merge_parties(sess, keep, gone, user=users["admin"])
    sess.commit()
    assert keep.phone_numbers == ["+8613800138000", "+8613900139000"]
    assert keep.roles == ["customer", "prospect"] and keep.tags == ["VIP"]
    assert keep.id_number == "110101199003071233"
    assert sess.get(Vehicle, car.id).owner_id == keep.id
    assert sess.scalar(select(VehicleOwnership.party_id)) == keep.id
    assert sess.scalars(select(TimelineEntry.party_id)).all() == [keep.id]
    assert sess.get(PartyValue, keep.id).lifetime_value == Decimal("150")
    assert (gone.active, gone.merged_into_id) == (False, keep.id)
    assert parties.get_party(sess, gone.id).id == keep.id  # old links lead to the survivor
    with pytest.raises(Conflict):
        merge.merge_parties(sess, keep, gone)
    events = sess.scalars(select(AuditEntry.event).where(AuditEntry.entity_type == "party")
                          .order_by(AuditEntry.id)).all()
    assert events.count("customer.merged") == 1


def test_lookup_ranks_identifiers_and_names(ctx):
    sess, users, branches = ctx
    wang = person(sess, "王伟", "13800138000", branches["A"], emails=["wang@example.cn"])
    wang2 = person(sess, "王伟国", "13900139000", branches["A"])
    other = person(sess, "Wang Fang", "13700137000", branches["B"])
    vin = make_vin(5)
    vehicles.create_vehicle(sess, {"vin": vin, "plate": "沪AD12345", "owner_id": wang2.id,
                                   "branch_id": branches["A"]})
    sess.commit()
    admin, sales = users["admin"], users["sales"]

    def ids(user, q):
        return [h.party.id for h in lookup.lookup(sess, user, q)]

    assert ids(sales, "+86 138 0013 8000") == [wang.id]
    assert ids(sales, "沪AD·12345") == [wang2.id]
    assert ids(sales, vin.lower()) == [wang2.id]
    assert ids(sales, "WANG@example.cn") == [wang.id]
    assert ids(sales, "王伟") == [wang.id, wang2.id]  # exact name first, then prefix
    assert ids(admin, "wang") == [other.id]
    assert ids(sales, "wang") == []  # branch B is not the salesperson's
    assert [p.id for p in lookup.by_phone(sess, sales, "13800138000")] == [wang.id]
    assert lookup.by_phone(sess, sales, "not a phone") == []


def test_recent_trail_keeps_the_newest(ctx):
    sess, users, branches = ctx
    user = users["sales"]
    # real customers of the user's branch: the trail leaves out what the user may not see
    ids = [person(sess, f"customer {i}", f"1380013{i:04d}").id for i in range(recent.KEEP + 5)]
    for i, party_id in enumerate(ids):
        recent.record_view(sess, user, "party", party_id, f"customer {i}")
    recent.record_view(sess, user, "party", ids[3], "customer 3 again")
    sess.commit()
    trail = recent.trail(sess, user, limit=50)
    assert len(trail) == recent.KEEP
    assert trail[0].entity_id == str(ids[3]) and trail[0].label == "customer 3 again"


def test_do_not_contact_is_honoured(ctx):
    sess, users, branches = ctx
    quiet = person(sess, "安静", "13800138000", branches["A"], do_not_contact=True)
    chatty = person(sess, "健谈", "13900139000", branches["A"])
    assert not parties.may_contact(quiet, "sms")
    assert parties.may_contact(chatty, "sms") and not parties.may_contact(chatty, "email")


def test_overview_statement_count_does_not_grow(ctx, app):
    from sqlalchemy import event

    from carebiz.crm.services.overview import overview

    sess, users, branches = ctx
    small, large = person(sess, "小", "13800138000"), person(sess, "大", "13900139000")
    for i in range(2):
        vehicles.create_vehicle(sess, {"vin": make_vin(100 + i), "owner_id": small.id,
                                       "branch_id": branches["A"]})
    for i in range(20):
        vehicles.create_vehicle(sess, {"vin": make_vin(200 + i), "owner_id": large.id,
                                       "branch_id": branches["A"]})
    for i in range(3):
        timeline.add_entry(sess, small, "note", subject=str(i))
    for i in range(200):
        timeline.add_entry(sess, large, "note", subject=str(i))
    sess.commit()
    engine = app.extensions["carebiz"].engine
    overview(sess, small, users["admin"])  # warm the per-request caches (plugin switches)
    counts = []

    def count(*_args):
        counts[-1] += 1

    for party_id in (small.id, large.id):
        sess.expunge_all()
        party = sess.get(Party, party_id)
        counts.append(0)
        event.listen(engine, "before_cursor_execute", count)  # the overview's statements only
        try:
            view = overview(sess, party, users["admin"])
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(view["timeline"]) <= 20
    # the small customer's whole timeline is on the page and tells that there was no
    # contact; the large one's last contact is asked: one statement more, never more
    assert counts[0] + 1 == counts[1], counts


def test_overview_last_contact_from_the_page_or_asked(ctx, app):
    """The last contact is read from the newest entries when they hold one or are the whole
    timeline, and asked from SQL otherwise (older than the page, or a kind filter)."""
    from sqlalchemy import event

    from carebiz.crm.services.overview import overview

    sess, users, _branches = ctx
    party = person(sess, "林", "13800138000")
    start = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
    timeline.add_entry(sess, party, "note", subject="first note", occurred_at=start)
    sess.commit()
    engine = app.extensions["carebiz"].engine
    asked: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        asked.append(statement)

    def last_contact(**kwargs):
        asked.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = overview(sess, party, users["admin"], timeline_limit=3, **kwargs)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return found["last_contact"], any("occurred_at FROM" in " ".join(s.split()) for s in asked)

    assert last_contact() == (None, False)  # the whole timeline: no contact, not asked
    call = start + dt.timedelta(days=1)
    timeline.add_entry(sess, party, "call", subject="called", occurred_at=call)
    timeline.add_entry(sess, party, "task", subject="open task", due_at=call,
                       occurred_at=call + dt.timedelta(days=1))  # open: not a contact
    sess.commit()
    assert last_contact() == (call, False)  # on the page
    for day in range(3):
        timeline.add_entry(sess, party, "note", subject=f"note {day}",
                           occurred_at=call + dt.timedelta(days=2 + day))
    sess.commit()
    assert last_contact() == (call, True)  # older than the page: asked
    assert last_contact(kinds=["note"]) == (call, True)  # filtered page: asked
