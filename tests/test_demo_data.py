"""The demo data looks like a dealership's: Chinese names for the mainland branches, English
names elsewhere, phone numbers valid for the branch's region, addresses in its city,
customers registered over two years with timelines that follow, a year of exchange rates;
and it is the same every time (seeded)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import phonenumbers
import pytest
from flask import Flask
from sqlalchemy import func, select

from carebiz.crm.demo import CUSTOMERS, PLACES
from carebiz.crm.models import OdometerReading, Party, TimelineEntry, Vehicle
from carebiz.currency.models import ExchangeRate
from carebiz.db import utcnow
from carebiz.demo import load_demo
from carebiz.models import AuditEntry, Branch

HAN = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
LATIN = re.compile(r"^[A-Za-z][A-Za-z' .-]+$")


def _digest(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return [(p.name, tuple(p.phone_numbers), p.street, p.created_at.replace(microsecond=0)
                 .date()) for p in sess.scalars(select(Party).order_by(Party.id))]


@pytest.fixture
def demo(make_app: Any) -> Flask:
    app = make_app()
    load_demo(app)
    return app


def test_names_phones_and_addresses_fit_the_branch(demo: Flask) -> None:
    with demo.app_context(), demo.extensions["carebiz"].session_factory() as sess:
        branches = {b.id: b.code for b in sess.scalars(select(Branch))}
        assert sorted(branches.values()) == ["BJ01", "HK01", "SH01"]
        people = list(sess.scalars(select(Party).where(Party.source == "demo")))
        assert len(people) == CUSTOMERS
        seen_codes = set()
        for party in people:
            code = branches[party.branch_id]
            seen_codes.add(code)
            place = PLACES[code]
            assert (party.province, party.city) == (place.province, place.city), party.name
            assert party.district in place.districts and party.street
            assert any(s in party.street for s in place.streets)
            for e164 in party.phone_numbers:
                number = phonenumbers.parse(e164)
                assert phonenumbers.is_valid_number(number), e164
                assert phonenumbers.region_code_for_number(number) == place.phone_region
            if party.kind == "person":
                pattern = HAN if place.chinese else LATIN
                assert pattern.match(party.name), (code, party.name)
                assert not re.search(r"\d", party.name)  # never "Ava Thomas 112"
        assert seen_codes == {"BJ01", "SH01", "HK01"}
        phones = [e for p in people for e in p.phone_numbers]
        assert len(phones) == len(set(phones))  # a phone finds one customer
        # a few walk-ins' cars are known by their plate only
        assert sess.scalar(select(func.count()).where(Vehicle.vin.is_(None))) >= 1


def test_registration_spread_and_consistent_history(demo: Flask) -> None:
    now = utcnow()
    with demo.app_context(), demo.extensions["carebiz"].session_factory() as sess:
        people = list(sess.scalars(select(Party).where(Party.source == "demo")))
        created = {p.id: p.created_at for p in people}
        months = {(c.year, c.month) for c in created.values()}
        assert len(months) >= 20  # "new customers by month" has months
        assert min(created.values()) >= now - dt.timedelta(days=731)
        assert max(created.values()) <= now
        recent = sum(c >= now - dt.timedelta(days=365) for c in created.values())
        assert recent > len(people) / 2  # a growing business
        for entry in sess.scalars(select(TimelineEntry)):
            if entry.due_at is None and entry.party_id in created:  # plugins' demo people too
                assert entry.occurred_at >= created[entry.party_id] - dt.timedelta(seconds=1)
        # the CRM demo's cars (plugins' demo cars — a showroom's demo fleet — have none)
        cars = {v.id: v for v in sess.scalars(select(Vehicle)) if v.owner_id in created}
        for reading in sess.scalars(select(OdometerReading)):
            if reading.vehicle_id not in cars:
                continue
            owner_since = created[cars[reading.vehicle_id].owner_id]
            assert owner_since - dt.timedelta(days=1) <= reading.read_at <= now
        for car in cars.values():
            assert car.created_at == created[car.owner_id]
        registered = {int(a.entity_id): a.at for a in sess.scalars(select(AuditEntry).where(
            AuditEntry.event == "customer.created"))}
        assert all(registered[pid] == when for pid, when in created.items())
    body = _report(demo)
    assert len(body["rows"]) >= 20


def _report(app: Flask) -> dict[str, Any]:
    from carebiz.testing import token_for

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, 'admin')}"}
    resp = client.get("/api/v1/reports/crm.new_customers_by_month?days=740", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_year_of_exchange_rates(demo: Flask) -> None:
    today = dt.date.today()
    with demo.app_context(), demo.extensions["carebiz"].session_factory() as sess:
        rows = sess.execute(select(ExchangeRate.base, func.count(), func.min(
            ExchangeRate.valid_from), func.max(ExchangeRate.valid_from)).where(
            ExchangeRate.quote == "CNY").group_by(ExchangeRate.base)).all()
        assert {r[0] for r in rows} == {"USD", "EUR", "HKD", "JPY"}
        for _base, count, first, last in rows:
            assert count >= 250  # every weekday of a year
            assert (today - first).days >= 360 and (today - last).days <= 3
        usd = sess.scalars(select(ExchangeRate.rate).where(ExchangeRate.base == "USD")).all()
        assert all(6 < float(r) < 8.5 for r in usd)  # a walk, not a runaway
        from carebiz.currency.rates import rate_on

        assert rate_on(sess, "HKD", "CNY", today - dt.timedelta(days=200)) > 0


def test_demo_is_the_same_every_time_and_safe_twice(demo: Flask, make_app: Any,
                                                    tmp_path: Any) -> None:
    first = _digest(demo)
    load_demo(demo)  # again: nothing added
    assert _digest(demo) == first
    other = make_app(CAREBIZ_DATABASE_URL=f"sqlite:///{tmp_path / 'again.db'}")
    load_demo(other)
    again = _digest(other)
    assert [row[:3] for row in again] == [row[:3] for row in first]
