"""Domain events: sent after commit, dropped on rollback, receivers isolated; audit entries
written in the same transaction as the change."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from carebiz.events import Audit, emit
from carebiz.models import AuditEntry, Branch
from carebiz.signals import core as signals


@pytest.fixture
def sess(app):
    with app.app_context(), app.extensions["carebiz"].session_factory() as s:
        yield s


def test_signal_sent_after_commit(app, sess):
    seen = []

    def receiver(sender, **kw):
        seen.append((sender, kw))

    signals.branch_saved.connect(receiver, weak=False)
    try:
        emit(sess, signals.branch_saved, branch_id=1, created=True)
        assert seen == []
        sess.commit()
        assert seen == [(app, {"branch_id": 1, "created": True})]
    finally:
        signals.branch_saved.disconnect(receiver)


def test_signal_dropped_on_rollback_and_close(app, sess):
    seen = []
    receiver = seen.append
    signals.branch_saved.connect(lambda sender, **kw: receiver(kw), weak=False)
    try:
        emit(sess, signals.branch_saved, branch_id=1, created=True)
        sess.rollback()
        sess.commit()
        emit(sess, signals.branch_saved, branch_id=2, created=True)
        sess.close()
        sess.commit()
        assert seen == []
    finally:
        signals.branch_saved.receivers.clear()


def test_failed_commit_drops_events_and_audit(app, sess):
    from sqlalchemy.exc import IntegrityError

    seen = []
    signals.branch_saved.connect(lambda sender, **kw: seen.append(kw), weak=False)
    try:
        sess.add(Branch(code="X", name="X"))
        sess.commit()
        sess.add(Branch(code="X", name="duplicate"))
        emit(sess, signals.branch_saved, branch_id=99, created=True,
             audit=Audit("branch", 99, "dup"))
        with pytest.raises(IntegrityError):
            sess.commit()
        sess.rollback()
        assert seen == []
        assert sess.scalars(select(AuditEntry)).all() == []
    finally:
        signals.branch_saved.receivers.clear()


def test_failing_receiver_is_logged_and_others_run(app, sess, caplog):
    seen = []

    def broken(sender, **kw):
        raise RuntimeError("receiver bug")

    def good(sender, **kw):
        seen.append(kw["branch_id"])

    signals.branch_saved.connect(broken, weak=False)
    signals.branch_saved.connect(good, weak=False)
    try:
        emit(sess, signals.branch_saved, branch_id=5, created=False)
        with caplog.at_level(logging.ERROR):
            sess.commit()
        assert seen == [5]
        assert "receiver bug" in caplog.text
    finally:
        signals.branch_saved.receivers.clear()


def test_audit_entry_in_same_transaction(app, sess, seeded):
    from carebiz.models import User
    from carebiz.services.users import update_user

    user = sess.get(User, seeded["users"]["sales"])
    sess.info["actor"] = sess.get(User, seeded["users"]["admin"])
    update_user(sess, user, display_name="Li Wei", branches=["A", "B"])
    sess.commit()
    entry = sess.scalars(select(AuditEntry).where(AuditEntry.event == "user.updated")).one()
    assert entry.actor_name == "admin"
    assert entry.entity_id == str(user.id)
    assert entry.before == {"display_name": "", "branches": ["A"]}
    assert entry.after == {"display_name": "Li Wei", "branches": ["A", "B"]}


def test_signals_are_documented():
    for signal in signals.ALL:
        assert "Arguments" in (signal.__doc__ or ""), signal.name


def test_savepoint_rollback_drops_only_its_events(app, sess):
    seen = []
    signals.branch_saved.connect(lambda sender, **kw: seen.append(kw["branch_id"]), weak=False)
    try:
        sess.add(Branch(code="K", name="kept"))
        emit(sess, signals.branch_saved, branch_id=1, created=True)
        savepoint = sess.begin_nested()
        sess.add(Branch(code="G", name="gone"))
        emit(sess, signals.branch_saved, branch_id=2, created=True)
        savepoint.rollback()
        kept = sess.begin_nested()
        emit(sess, signals.branch_saved, branch_id=3, created=True)
        kept.commit()
        assert seen == []  # a released savepoint is not a commit: the outer one still locks
        sess.commit()
        assert seen == [1, 3]
        assert sorted(sess.scalars(select(Branch.code))) == ["K"]
    finally:
        signals.branch_saved.receivers.clear()


def test_events_of_a_released_savepoint_go_when_the_outer_transaction_rolls_back(app, sess):
    """Released savepoint, then the whole transaction rolls back: nothing is sent."""
    seen = []
    signals.branch_saved.connect(lambda sender, **kw: seen.append(kw["branch_id"]), weak=False)
    try:
        sess.add(Branch(code="R", name="rolled back"))
        emit(sess, signals.branch_saved, branch_id=1, created=True)
        with sess.begin_nested():
            emit(sess, signals.branch_saved, branch_id=2, created=True)
        sess.rollback()
        assert seen == []
    finally:
        signals.branch_saved.receivers.clear()


def test_sqlite_savepoint_first_does_not_commit_early(app, sess):
    """The first statement of a transaction may be a SAVEPOINT: releasing it must not commit
    what the outer transaction later rolls back."""
    savepoint = sess.begin_nested()
    sess.add(Branch(code="S", name="saved in a savepoint"))
    savepoint.commit()
    sess.rollback()
    assert sess.scalars(select(Branch)).all() == []
