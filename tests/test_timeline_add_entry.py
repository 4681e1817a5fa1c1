"""``carebiz.crm.timeline.add_entry``: the documented way a plugin writes a timeline entry
checks the kind is registered and the customer visible to the acting user."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from carebiz.crm import signals
from carebiz.crm.models import TimelineEntry
from carebiz.crm.timeline import add_entry
from carebiz.errors import NotFound, ValidationFailed
from carebiz.services.users import get_user
from carebiz.testing import make_customer, make_vehicle


@pytest.fixture
def world(sample_app: Flask, sample_seeded: dict[str, Any]) -> dict[str, int]:
    ext = sample_app.extensions["carebiz"]
    branches = sample_seeded["branches"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        own = make_customer(sess, "王小明", branches["A"])
        other = make_customer(sess, "李娜", branches["B"])
        car = make_vehicle(sess, 1, branches["B"], owner_id=other.id)
        sess.commit()
        return {"own": own.id, "other": other.id, "car": car.id}


def test_a_plugin_writes_an_entry_of_its_registered_kind(sample_app: Flask,
                                                         world: dict[str, int]) -> None:
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, **payload: Any) -> None:
        sent.append(payload)

    ext = sample_app.extensions["carebiz"]
    at = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
    with sample_app.test_request_context(), ext.session_factory() as sess, \
            signals.timeline_entry_added.connected_to(receiver):
        manager = get_user(sess, "manager")
        entry = add_entry(sess, party_id=world["other"], kind="sample.visit",
                          subject="Washed  and waxed", ref_type="sample_record", ref_id=12,
                          at=at, vehicle_id=world["car"], user=manager)
        assert sent == []  # nothing is sent before the commit
        sess.commit()
        stored = sess.get(TimelineEntry, entry.id)
        assert (stored.party_id, stored.kind, stored.subject, stored.ref_type,
                stored.ref_id, stored.vehicle_id, stored.created_by) == (
            world["other"], "sample.visit", "Washed and waxed", "sample_record", "12",
            world["car"], manager.id)
        assert stored.occurred_at.replace(tzinfo=dt.UTC) == at
    assert [p["entry_id"] for p in sent] == [entry.id]


def test_an_unregistered_kind_is_refused(sample_app: Flask, world: dict[str, int]) -> None:
    ext = sample_app.extensions["carebiz"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        with pytest.raises(ValidationFailed) as caught:
            add_entry(sess, party_id=world["own"], kind="sample.unknown", subject="x",
                      user=get_user(sess, "sales"))
        assert set(caught.value.errors) == {"kind"}


def test_a_customer_the_user_may_not_see_is_not_found(sample_app: Flask,
                                                      world: dict[str, int]) -> None:
    ext = sample_app.extensions["carebiz"]
    with sample_app.test_request_context(), ext.session_factory() as sess:
        sales = get_user(sess, "sales")  # branch A only
        with pytest.raises(NotFound):
            add_entry(sess, party_id=world["other"], kind="sample.visit", subject="x",
                      user=sales)
        with pytest.raises(ValidationFailed) as caught:  # their car is hidden the same way
            add_entry(sess, party_id=world["own"], kind="sample.visit", subject="x",
                      vehicle_id=world["car"], user=sales)
        assert set(caught.value.errors) == {"vehicle_id"}
        with pytest.raises(ValidationFailed) as caught:
            add_entry(sess, party_id=world["own"], kind="sample.visit", subject="x",
                      ref_type="r" * 61, user=sales)
        assert set(caught.value.errors) == {"ref_type"}
        assert sess.query(TimelineEntry).count() == 0


def test_a_switched_off_plugins_kind_is_refused(app: Flask, seeded: dict[str, Any]) -> None:
    ext = app.extensions["carebiz"]
    with app.test_request_context(), ext.session_factory() as sess:
        party = make_customer(sess, "陈静", seeded["branches"]["A"])
        with pytest.raises(ValidationFailed):
            add_entry(sess, party_id=party.id, kind="sample.visit", subject="x", user=None)
        entry = add_entry(sess, party_id=party.id, kind="note", subject="A core kind",
                          user=None)
        assert entry.created_by is None
