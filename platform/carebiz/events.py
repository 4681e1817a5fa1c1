"""Domain events: blinker signals sent after the transaction commits.

A service records an event with :func:`emit` while it works. If the event describes a change
worth auditing, the audit entry is added to the same transaction right away. The signal itself
is queued on the session and sent only when that session commits; a rollback drops the queue.
Each receiver runs in isolation: one that raises is logged and the others still run.

Receivers come from two places: the ``event_receivers`` hook (scoped to the app and to
switched-on plugins; the preferred way) and functions connected directly to the blinker
signal (connect with ``weak=False``; blinker holds receivers weakly by default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from blinker import NamedSignal
from flask import has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from carebiz.models.audit import DATA_REFS, REFS, AuditEntry

log = logging.getLogger(__name__)

PENDING = "carebiz.pending_events"
#: actor name of changes made by no user (CLI, jobs); pages show it translated
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Audit:
    """What the audit log should say about an event."""

    entity_type: str
    entity_id: Any
    #: a message marked with ``carebiz.i18n.N_`` and its ``%(name)s`` arguments: stored as
    #: they are and translated when shown, in the reader's language
    summary: str = ""
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    branch_id: int | None = None
    args: dict[str, Any] | None = None
    #: the arguments that name a record other than the entry's own, as ``{arg: (entity
    #: type, id)}`` (e.g. ``{"name": ("party", 12)}``): readers who may not see that record
    #: read a mask instead of its name (:func:`carebiz.models.audit.for_reader`)
    refs: dict[str, tuple[str, Any]] | None = None
    #: the top-level keys of ``before``/``after`` that describe another record, as ``{key:
    #: (entity type, id)}`` (a merged-away customer's snapshot): readers who may not see that
    #: record read them withheld (:attr:`carebiz.models.audit.AuditEntry.shown_after`)
    data_refs: dict[str, tuple[str, Any]] | None = None
    #: the record's version after the change (:class:`carebiz.db.Versioned` records), so a
    #: version conflict can tell what changed since the version a client had
    version: int | None = None


def current_actor(session: Session) -> tuple[int | None, str]:
    """Who is acting: the session's explicit actor (CLI, jobs), else the logged-in user."""
    actor = session.info.get("actor")
    if actor is None and has_request_context():
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            actor = current_user
    if actor is None:
        return None, SYSTEM_ACTOR
    return actor.id, actor.username


def emit(session: Session, signal: NamedSignal, *, audit: Audit | None = None,
         **payload: Any) -> None:
    """Record a domain event: audit now (same transaction), signal after commit."""
    if not session.in_transaction():
        session.begin()  # so a rollback before any SQL still ends a transaction and drops it
    if audit is not None:
        actor_id, actor_name = current_actor(session)
        session.add(AuditEntry(
            actor_id=actor_id,
            actor_name=actor_name,
            event=signal.name,
            entity_type=audit.entity_type,
            entity_id=str(audit.entity_id),
            branch_id=audit.branch_id,
            summary=audit.summary[:500],
            summary_args=_summary_args(audit),
            before=audit.before,
            after=audit.after,
            version=audit.version,
        ))
    # remember the (innermost) transaction, so rolling back a SAVEPOINT drops its events
    transaction = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING, []).append((transaction, signal, payload))


def _summary_args(audit: Audit) -> dict[str, Any] | None:
    if not audit.refs and not audit.data_refs:
        return audit.args
    args = dict(audit.args or {})
    for key, refs in ((REFS, audit.refs), (DATA_REFS, audit.data_refs)):
        if refs:
            args[key] = {name: [entity_type, record_id]
                         for name, (entity_type, record_id) in refs.items()}
    return args


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values changed, for compact audit entries."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def install(factory: sessionmaker[Session]) -> None:
    """Hook the commit/rollback events of every session the factory makes."""
    event.listen(factory, "after_commit", _after_commit)
    event.listen(factory, "after_transaction_end", _after_transaction_end)
    event.listen(factory, "after_soft_rollback", _after_soft_rollback)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    """A rollback (of a SAVEPOINT or of everything) drops the events recorded inside it."""
    pending = session.info.get(PENDING)
    if not pending:
        return

    def inside(transaction: Any) -> bool:
        while transaction is not None:
            if transaction is previous_transaction:
                return True
            transaction = transaction.parent
        return False

    session.info[PENDING] = [item for item in pending if not inside(item[0])]


def _after_transaction_end(session: Session, transaction: Any) -> None:
    """An outermost transaction that ends without a commit (rollback, close) drops its events;
    after a commit they have already been sent by :func:`_after_commit`."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


def _after_commit(session: Session) -> None:
    """Send the events of a committed transaction. SQLAlchemy also calls this hook when a
    SAVEPOINT is released (``begin_nested``): its events wait for the outermost commit, since
    the outer transaction still holds its locks and may yet roll back."""
    if session.in_nested_transaction():
        return
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    app = session.info.get("carebiz.app")
    host = session.info.get("carebiz.host")
    hooked = host.collect("event_receivers") if host is not None else []
    for _transaction, signal, payload in pending:
        send(signal, app, payload, [r.receiver for r in hooked if r.signal is signal])


def send(signal: NamedSignal, sender: Any, payload: dict[str, Any],
         extra_receivers: list[Any] = ()) -> int:
    """Call every receiver, each isolated; return how many failed."""
    failures = 0
    receivers = list(extra_receivers) + list(signal.receivers_for(sender))
    for receiver in receivers:
        try:
            receiver(sender, **payload)
        except Exception:  # a failing receiver must not stop the others
            failures += 1
            log.exception("receiver %r of signal %s failed", receiver, signal.name)
    return failures
