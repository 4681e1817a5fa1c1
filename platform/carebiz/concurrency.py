"""Data integrity under concurrency: the pieces every service, page and API of the core and
of plugins uses when two people (or a person and a background job) change data at once.

**Lost updates** (two people edit the same record; the stale form silently reverts the
other's change). Records carry a version (:class:`carebiz.db.Versioned`). Pages put it in a
hidden form field, the API in ``version`` and the ``ETag`` header; the service checks what
the client had with :func:`check_version` before it writes, and answers a
:class:`VersionConflict` (409) naming the fields someone else changed, who, and what is on
file now. Without a version (old API clients) the write goes through: last write wins, as
before. The database checks the version once more in the UPDATE itself, so even two
requests a millisecond apart cannot both win.

**Check-then-act races** (two merges of the same customers at once). Re-check the state
under a row lock inside the transaction: :func:`lock` reads the rows afresh and keeps them
locked until commit (``SELECT … FOR NO KEY UPDATE`` in id order on PostgreSQL, so two
transactions locking the same rows never deadlock; SQLite's one write lock taken up front
with ``BEGIN IMMEDIATE``). The loser then sees the winner's result and raises a clear 409.

**Busy databases** (SQLite's single writer, PostgreSQL deadlocks and lock timeouts). Long
writers commit in batches and let others in between (:func:`yield_to_writers`); a request
that still cannot get its lock answers 503 with a retry message (:class:`Busy`, and the
app-wide handler installed by :func:`init_app`), never a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from carebiz.errors import Conflict, ServiceError, ValidationFailed

log = logging.getLogger(__name__)

#: seconds a client is told to wait before trying again after a 503
RETRY_AFTER = 2
#: a pause between a long writer's batches on SQLite: twice the 100 ms between the polls
#: of a writer waiting for the lock, so a waiting writer gets in even on a busy machine
YIELD_SECONDS = 0.2
#: PostgreSQL SQLSTATEs of lock trouble worth retrying: deadlock detected, lock not
#: available (lock_timeout, NOWAIT), serialization failure
PG_BUSY_STATES = frozenset({"40P01", "55P03", "40001"})
_SQLITE_BUSY = ("database is locked", "database table is locked", "database schema is locked")


# --- errors ----------------------------------------------------------------------------------


class VersionConflict(Conflict):
    """Someone else changed the record since the client read it (409).

    ``details``: ``current_version`` (send it back to overwrite knowingly), ``changed``
    (the fields changed since the client's version, from the audit log), ``changed_by``
    (who) and ``current`` (their values now); ``errors`` holds one message per changed
    field, so forms show it next to the field."""

    code = "version_conflict"

    @classmethod
    def concurrent(cls) -> VersionConflict:
        """The database found the row changed between this request's read and its write."""
        return cls(_("Someone else saved a change to this record at the same moment. Nothing "
                     "was saved; load the record again and repeat your change."),
                   details={"current_version": None, "changed": [], "changed_by": []})


class Busy(ServiceError):
    """The database could not give this change its lock in time (503): try again."""

    status = 503
    code = "busy"

    def __init__(self, message: Any = None, errors: dict[str, Any] | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message or _("The database is busy with other changes (perhaps a "
                                      "large import). Nothing was saved; try again in a "
                                      "moment."),
                         errors, {"retry_after": RETRY_AFTER, **(details or {})})


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "locked, try again" rather than a bug: SQLite's
    "database is locked", PostgreSQL's deadlocks, lock timeouts and serialization
    failures."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in PG_BUSY_STATES:
        return True
    if getattr(orig, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return True
    return isinstance(exc, OperationalError) and any(m in str(orig).lower()
                                                     for m in _SQLITE_BUSY)


@contextmanager
def busy_as_service_error() -> Iterator[None]:
    """Turn a lock error raised inside the block into :class:`Busy`, which pages show as a
    message and the API answers with 503; other database errors pass unchanged."""
    try:
        yield
    except DBAPIError as exc:
        if is_busy(exc):
            raise Busy() from exc
        raise


# --- versions -------------------------------------------------------------------------------


def parse_version(value: Any, field: str = "version") -> int | None:
    """A version sent by a form or a JSON body: None when absent, else a positive integer;
    anything else is a 422 on ``field``."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
        if isinstance(value, bool) or number < 1:
            raise ValueError
    except (TypeError, ValueError):
        raise ValidationFailed(_("The version must be a positive whole number."),
                               {field: _("A positive whole number.")}) from None
    return number


def changes_since(session: Session, entity_type: str, entity_id: Any,
                  version: int) -> tuple[list[str], list[str]]:
    """The fields changed after ``version`` of a record and who changed them, read from the
    audit entries that carry the record's version (:class:`carebiz.events.Audit`
    ``version``). A dict-valued field (``custom``) is named per key: ``custom.colour``."""
    from carebiz.models.audit import AuditEntry

    rows = session.execute(
        select(AuditEntry.before, AuditEntry.after, AuditEntry.actor_name)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id),
               AuditEntry.version > version)
        .order_by(AuditEntry.id)).all()
    fields: dict[str, None] = {}
    actors: dict[str, None] = {}
    for before, after, actor in rows:
        actors[actor or ""] = None
        for key in _changed_keys(before, after or {}):
            fields[key] = None
    return list(fields), [a for a in actors if a]


def _changed_keys(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    keys = []
    for key, new in after.items():
        old = (before or {}).get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            keys += [f"{key}.{sub}" for sub in sorted(set(old) | set(new))
                     if old.get(sub) != new.get(sub)]
        elif before is None and isinstance(new, dict):
            keys += [f"{key}.{sub}" for sub, value in new.items() if value not in (None, "")]
        elif before is None and new in (None, "", [], {}, False):
            continue  # a creation records every field; only those it set are news
        elif before is None or old != new:
            keys.append(key)
    return keys


def check_version(session: Session, record: Any, expected: int | Iterable[int] | None, *,
                  entity_type: str, current: dict[str, Any] | None = None,
                  entity_id: Any = None) -> None:
    """Refuse to write over changes the client has not seen.

    ``expected`` is the version the client had (a form's hidden field, the JSON
    ``version``, the ``If-Match`` versions); None skips the check (legacy clients: last
    write wins). ``entity_type`` (and ``entity_id``, when not the record's id) name the
    record in the audit log, which tells what changed since; ``current`` (the record's
    snapshot) adds the values now on file. Raises :class:`VersionConflict`."""
    if expected is None:
        return
    wanted = {expected} if isinstance(expected, int) else set(expected)
    if record.version in wanted:
        return
    since = min(wanted, default=0)
    changed, actors = changes_since(session, entity_type,
                                    record.id if entity_id is None else entity_id, since)
    if current is not None:  # only the record's own fields ("since" of an owner change is not)
        changed = [key for key in changed if key in current or key.partition(".")[0] in current]
    now = {key: _value_at(current, key) for key in changed} if current is not None else {}
    who = ", ".join(actors) or _("someone else")
    if changed:
        message = _("This record was changed by %(who)s since you loaded it (%(fields)s). "
                    "Nothing was saved; look at the values now on file and apply your "
                    "change again.", who=who, fields=", ".join(changed))
    else:
        message = _("This record was changed by %(who)s since you loaded it. Nothing was "
                    "saved; load it again and apply your change again.", who=who)
    errors = {key: (_("Changed by %(who)s meanwhile; now on file: %(value)s", who=who,
                      value=display(now[key])) if key in now
                    else _("Changed by %(who)s meanwhile.", who=who)) for key in changed}
    raise VersionConflict(message, errors, {
        "current_version": record.version, "your_version": sorted(wanted),
        "changed": changed, "changed_by": actors, "current": now})


def _value_at(snapshot: dict[str, Any] | None, key: str) -> Any:
    if snapshot is None:
        return None
    if key in snapshot:
        return snapshot[key]
    head, _dot, sub = key.partition(".")
    value = snapshot.get(head)
    return value.get(sub) if isinstance(value, dict) else None


def display(value: Any, limit: int = 120) -> str:
    """A stored value as one short line for a message: lists joined, empty as a dash."""
    if value in (None, "", [], {}):
        text = "—"
    elif isinstance(value, bool):
        text = _("yes") if value else _("no")
    elif isinstance(value, list | tuple):
        text = ", ".join(map(str, value))
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {v}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bumped(model: type) -> dict[str, Any]:
    """Values to add to a bulk ``update(model)`` so the versions of the rows it changes move
    too (bulk statements bypass the ORM's version counter)::

        session.execute(update(Vehicle).where(...).values(owner_id=keep.id, **bumped(Vehicle)))
    """
    from carebiz.db import Versioned

    if isinstance(model, type) and issubclass(model, Versioned):
        return {"version": model.version + 1}
    return {}


# --- locks ----------------------------------------------------------------------------------


def begin_write(session: Session) -> None:
    """Make the session's transaction a write transaction now.

    SQLite has one writer at a time. A transaction that reads first and writes later can
    find, at its first write, that another writer committed after its reads: SQLite then
    refuses at once with "database is locked", however long the busy timeout. ``BEGIN
    IMMEDIATE`` takes the write lock first (waiting up to the busy timeout), so what the
    transaction reads afterwards stays true until it commits. Already inside a transaction
    the lock is held (the driver opens transactions only right before a write, and the
    engine opens savepoint transactions IMMEDIATE). PostgreSQL needs nothing here: lock
    the rows you re-check with :func:`lock`."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        with busy_as_service_error():
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock(session: Session, model: type, ids: Iterable[Any]) -> dict[int, Any]:
    """Lock the rows of ``model`` with these ids until the transaction ends and read them
    afresh (whatever this session held is replaced by the committed state, so call it
    before changing them). Returns the rows by id; missing ids are absent.

    Re-check every condition the change depends on (active, not merged, status) on the
    returned rows: a concurrent transaction that locked them first has committed by now and
    its result is what you see. Rows are locked in id order, so two transactions locking
    overlapping sets wait for each other instead of deadlocking. ``FOR NO KEY UPDATE``
    leaves foreign-key checks of other transactions (rows pointing at these) unblocked."""
    wanted = sorted({int(i) for i in ids})
    begin_write(session)
    stmt = (select(model).where(model.id.in_(wanted)).order_by(model.id)
            .with_for_update(of=model, key_share=True)
            .execution_options(populate_existing=True))
    with busy_as_service_error():
        return {row.id: row for row in session.scalars(stmt)}


def yield_to_writers(session: Session) -> None:
    """Call between the committed batches of a long writer (an import, a recalculation):
    on SQLite, pause long enough for every writer waiting for the lock to take it before
    the next batch does; PostgreSQL needs no pause."""
    if session.get_bind().dialect.name == "sqlite":
        time.sleep(YIELD_SECONDS)


# --- HTTP: ETag / If-Match and the busy answer ---------------------------------------------


def etag(version: int) -> str:
    """The ``ETag`` of a record at ``version`` (strong, so ``If-Match`` may use it)."""
    return f'"{version}"'


def etag_headers(record: Any) -> dict[str, str]:
    """Headers for an API answer showing one versioned record; return them with the body:
    ``return record, 200, etag_headers(record)``."""
    return {"ETag": etag(record.version)}


def if_match(header: str | None) -> list[int] | None:
    """The versions an ``If-Match`` header allows: None when there is no header or ``*``
    (no precondition); an ETag that is not one of ours matches nothing."""
    if header is None or not header.strip() or header.strip() == "*":
        return None
    versions = []
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag.isdigit():
            versions.append(int(tag))
    return versions or [0]


def expected_version(body_version: Any = None) -> list[int] | None:
    """The versions the current API request says it has: the ``If-Match`` header, else
    the ``version`` of the JSON body; None when it says neither (last write wins). Both
    given and disagreeing is a 422."""
    from flask import request

    header = if_match(request.headers.get("If-Match"))
    body = parse_version(body_version)
    if header is not None and body is not None and body not in header:
        raise ValidationFailed(_("The version in the body and the If-Match header differ."),
                               {"version": _("Differs from If-Match.")})
    if header is not None:
        return header
    return [body] if body is not None else None


def init_app(app: Any) -> None:
    """Answer lock errors that reached no service's handling with 503 and a retry message
    (JSON under the API, the error page elsewhere) instead of a 500; other database errors
    keep the platform's 500 handling."""
    from flask import jsonify, render_template

    @app.errorhandler(OperationalError)
    def _busy(exc: OperationalError) -> Any:
        if not is_busy(exc):
            raise exc
        from carebiz.api import error_body, is_api_request

        log.warning("database busy: %s", exc.orig)
        busy = Busy()
        headers = {"Retry-After": str(RETRY_AFTER)}
        if is_api_request():
            body = {**busy.details, **error_body(busy.status, busy.message, {}, busy.code)}
            return jsonify(body), busy.status, headers
        return (render_template("errors/error.html", code=busy.status,
                                description=busy.message), busy.status, headers)


# --- forms ----------------------------------------------------------------------------------


def explain_save_error(form: Any, error: ServiceError | None,
                       aliases: dict[str, str] | None = None) -> int | None:
    """After ``saving()`` refused a form's change, for the concurrency errors: the HTTP
    status to answer (409 for a :class:`VersionConflict`, 503 for :class:`Busy`), None for
    other errors (the page keeps its own status).

    On a version conflict the user's values are still in the form; this puts the current
    version into its hidden ``version`` field, so saving again overwrites knowingly, and
    says above the form which fields someone else changed (each field also carries its own
    message with the value on file). ``aliases`` maps service field names to form field
    names where they differ (custom fields), as given to ``saving()``; when a changed
    field has no place on the form, ``saving()`` has flashed the conflict's own message
    already."""
    from flask import flash

    if isinstance(error, Busy):
        return error.status
    if not isinstance(error, VersionConflict):
        return None
    current = error.details.get("current_version")
    if current is not None and "version" in form:
        form.version.data = str(current)
    fields = [form._fields.get((aliases or {}).get(key, key)) for key in error.errors]
    if fields and None not in fields:
        who = ", ".join(error.details.get("changed_by") or []) or _("someone else")
        flash(_("%(who)s changed this record while you were editing it: %(fields)s. What "
                "you typed is kept below, with the values now on file next to the fields. "
                "Save again to keep your values.", who=who,
                fields=", ".join(str(f.label.text) for f in fields)), "warning")
    return error.status
