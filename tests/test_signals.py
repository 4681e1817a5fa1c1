"""Signals: declared once per area with sender, moment and arguments, listed by a registry;
receivers write through a session of their own, after the sender's commit."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import carebiz
from carebiz.crm import signals as crm_signals
from carebiz.crm.models import Party, TimelineEntry
from carebiz.crm.services import parties, timeline
from carebiz.currency import signals as currency_signals
from carebiz.notify import signals as notify_signals
from carebiz.signals import core as core_signals
from carebiz.signals import declare, declared, receiver_session, spec_of
from carebiz.units import signals as units_signals

AREAS = (core_signals, crm_signals, currency_signals, units_signals, notify_signals)


def test_every_core_signal_is_declared_with_sender_and_arguments() -> None:
    listed = {spec.name: spec for spec in declared()}
    for area in AREAS:
        for signal in area.ALL:
            spec = listed[signal.name]
            assert spec.signal is signal and spec_of(signal) is spec
            assert spec.module == area.__name__
            assert spec.doc and spec.sent_by and spec.arguments, signal.name
            doc = signal.__doc__ or ""
            assert "after the transaction commits" in doc and "Arguments" in doc, signal.name
            assert all(f"``{arg}``" in doc for arg in spec.arguments), signal.name
    assert [s.name for s in declared()] == sorted(listed)


def _emits() -> list[tuple[str, str, set[str]]]:
    """(module, signal attribute, keyword arguments) of every ``emit(...)`` in the core."""
    root = Path(carebiz.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        module = "carebiz." + ".".join(path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "emit"
                    and len(node.args) >= 2):
                target = node.args[1]
                name = target.attr if isinstance(target, ast.Attribute) else target.id
                found.append((module, name, {k.arg for k in node.keywords if k.arg != "audit"}))
    return found


def test_senders_send_exactly_the_declared_arguments_and_are_named() -> None:
    by_attribute = {attr: spec_of(signal) for area in AREAS for attr, signal in vars(area).items()
                    if attr != "ALL" and hasattr(signal, "receivers")}
    emits = _emits()
    assert len(emits) > 20
    for module, attribute, keywords in emits:
        spec = by_attribute[attribute]
        assert keywords == set(spec.arguments), (module, spec.name)
        assert module in spec.sent_by, (module, spec.name)


def test_a_name_is_declared_by_one_module_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import carebiz.signals

    # the registry is the process's: keep this test's names out of it afterwards
    monkeypatch.setattr(carebiz.signals, "_declared", dict(carebiz.signals._declared))
    first = declare("test.only_once", "A test event.", sent_by="tests", arguments={},
                    module="tests.first")
    assert declare("test.only_once", "A test event.", sent_by="tests", arguments={},
                   module="tests.first") is first  # a re-import gets the same signal
    with pytest.raises(ValueError, match="tests.first"):
        declare("test.only_once", "Another.", sent_by="tests", arguments={},
                module="tests.second")
    with pytest.raises(ValueError):
        declare("test.undocumented", " ", sent_by="tests", arguments={})


def _register(sess: Any, branch_id: int, name: str = "Wang Lei") -> Party:
    party = parties.create_party(sess, {"name": name, "branch_id": branch_id})
    sess.commit()
    return party


def test_a_receiver_writes_in_its_own_transaction(app: Flask, seeded: dict[str, Any]) -> None:
    """The receiver adds a timeline entry after the customer's commit; the sender's session
    stays as its commit left it, and the receiver's own event is sent after its commit."""
    seen: list[tuple[str, Any]] = []

    def welcome(sender: Flask, party_id: int, **_: Any) -> None:
        with receiver_session(sender) as session:
            party = session.get(Party, party_id)
            timeline.add_entry(session, party, "note", subject="Welcome")
            seen.append(("inside", session.in_transaction()))

    def added(sender: Flask, entry_id: int, **_: Any) -> None:
        seen.append(("entry", entry_id))

    crm_signals.customer_created.connect(welcome, weak=False)
    crm_signals.timeline_entry_added.connect(added, weak=False)
    try:
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            party = _register(sess, seeded["branches"]["A"])
            assert not sess.in_transaction()  # the sender's transaction was left alone
            assert party.name == "Wang Lei"
            entries = sess.scalars(select(TimelineEntry)
                                   .where(TimelineEntry.party_id == party.id)).all()
    finally:
        crm_signals.customer_created.disconnect(welcome)
        crm_signals.timeline_entry_added.disconnect(added)
    assert [e.subject for e in entries] == ["Welcome"]
    assert seen == [("inside", True), ("entry", entries[0].id)]


def test_a_failing_receiver_rolls_back_only_its_own_work(
        app: Flask, seeded: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    others: list[int] = []

    def broken(sender: Flask, party_id: int, **_: Any) -> None:
        with receiver_session(sender) as session:
            timeline.add_entry(session, session.get(Party, party_id), "note",
                               subject="Half done")
            session.flush()
            raise RuntimeError("receiver bug")

    def other(sender: Flask, party_id: int, **_: Any) -> None:
        others.append(party_id)

    crm_signals.customer_created.connect(broken, weak=False)
    crm_signals.customer_created.connect(other, weak=False)
    try:
        with caplog.at_level(logging.WARNING), app.app_context(), \
                app.extensions["carebiz"].session_factory() as sess:
            party = _register(sess, seeded["branches"]["A"], "Zhao Min")
            kept = sess.get(Party, party.id)
            written = sess.scalars(select(TimelineEntry)
                                   .where(TimelineEntry.party_id == party.id)).all()
    finally:
        crm_signals.customer_created.disconnect(broken)
        crm_signals.customer_created.disconnect(other)
    assert kept is not None and kept.name == "Zhao Min"  # the sender's change is committed
    assert written == []  # the receiver's half-done work is not
    assert others == [party.id]
    assert "rolled back a signal receiver's changes: RuntimeError" in caplog.text
    assert "receiver bug" in caplog.text  # the dispatcher logged the traceback

