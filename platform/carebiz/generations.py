"""Cache generations: one small query per request tells a process whether its caches hold.

Worker processes keep in memory what nearly every request needs: who a token or a session
belongs to, with roles, grants and branches (``carebiz.security.identity_cache``), and which
plugins are switched on (``carebiz.plugins.host``). Several processes serve one database, so
a process cannot know by itself that another one revoked a token. Instead, every change to
such data increments a counter in the ``cache_generation`` table *in the same transaction*;
a process reads the counters once per request (one read of a two-row table, on the request's
connection once the table is known to exist) and drops what it cached under another value.
A change is therefore visible on the very next request in every process, exactly when its
transaction commits.

Changes are noticed in the ORM: rows of the watched tables added, changed or deleted in a
flush (a change of ``last_login_at`` or a token's ``last_used_at`` alone is bookkeeping and
bumps nothing), and bulk ``insert``/``update``/``delete`` statements on them run through a
session. SQL typed around the platform (a manual fix in psql) is not seen; after one, run
``UPDATE cache_generation SET value = value + 1`` or restart the server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from flask import current_app, g, has_app_context
from sqlalchemy import event, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InvalidRequestError
from sqlalchemy.orm import Session, sessionmaker

from carebiz import db
from carebiz.models.generation import CacheGeneration

log = logging.getLogger(__name__)

SECURITY = "security"
PLUGINS = "plugins"
SETTINGS = "settings"
FIELDS = "custom_fields"
NOTICES = "notices"

#: table -> the generation its changes bump
WATCHED: dict[str, str] = {
    "user_account": SECURITY, "role": SECURITY, "role_permission": SECURITY,
    "user_role": SECURITY, "user_branch": SECURITY, "branch": SECURITY, "api_token": SECURITY,
    "plugin_state": PLUGINS, "setting_value": SETTINGS, "custom_field": FIELDS,
    # the bell's unread counts (every page shows one): changes often, but only that memo
    # is kept under it
    "notification": NOTICES,
}
#: columns whose change alone is bookkeeping, not a change of what is cached
BOOKKEEPING: dict[str, frozenset[str]] = {
    "user_account": frozenset({"last_login_at", "updated_at"}),
    "api_token": frozenset({"last_used_at"}),
}
#: execution option marking a bulk statement on a watched table as bookkeeping
NEUTRAL = "carebiz_cache_neutral"

PENDING = "carebiz.generations_pending"
MEMO = "_carebiz_generations"
#: seconds before a process looks again for a missing table (before ``carebiz db upgrade``)
RETRY = 30.0


# -- reading ---------------------------------------------------------------------------------
#: marks counters not read yet in this app context ({} is a readable table with no rows yet)
_UNREAD = object()



class Generations:
    """Reads the counters, at most once per app context (a request, a job, a command)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._retry_at = 0.0
        #: the table exists (read once beside the request), so requests may read it
        self._known = False
        self._stmt = select(CacheGeneration.name, CacheGeneration.value)
        # PostgreSQL: read outside a transaction, so returning the connection costs no ROLLBACK
        self._options = ({"isolation_level": "AUTOCOMMIT"}
                         if engine.dialect.name == "postgresql" else {})
        #: what this process keeps under these counters (e.g. the stored settings), by owner
        self.memos: dict[str, Any] = {}

    def current(self) -> Mapping[str, int] | None:
        """The counters (``None`` when they cannot be read: then nothing may be cached)."""
        if has_app_context():
            memo = g.get(MEMO, _UNREAD)
            if memo is not _UNREAD:
                return memo  # None too: unreadable stays unreadable for this context
        value = self._read()
        if has_app_context():
            setattr(g, MEMO, value)
        return value

    def value(self, name: str) -> int | None:
        current = self.current()
        return None if current is None else current.get(name, 0)

    def forget(self) -> None:
        """Read the counters again on next use (after this process changed something)."""
        if has_app_context():
            g.pop(MEMO, None)

    def _read(self) -> dict[str, int] | None:
        if self._retry_at and time.monotonic() < self._retry_at:
            return None
        if self._known and has_app_context() and (
                current_app.extensions["carebiz"].engine is self.engine):
            # on the request's own connection (it opens one anyway): a third of the cost
            session = db.session()
            fresh = not session.in_transaction()
            try:
                rows = session.connection().execute(self._stmt).all()
            except InvalidRequestError:
                pass  # the session is inside its commit: read beside it
            except DBAPIError:
                self._known = False  # the table went away
                if not fresh:
                    raise
                session.rollback()  # it held nothing but this read
            else:
                return {name: int(value) for name, value in rows}
        try:
            with self.engine.connect() as conn:
                if self._options:
                    conn = conn.execution_options(**self._options)
                rows = conn.execute(self._stmt).all()
        except DBAPIError:  # table not created yet: cache nothing, look again later
            log.debug("cache_generation unreadable; caches off for %s s", RETRY)
            self._retry_at = time.monotonic() + RETRY
            return None
        self._retry_at = 0.0
        self._known = True
        return {name: int(value) for name, value in rows}


def kept(session: Session, generation: str, memo: str, model: type) -> dict[Any, Any] | None:
    """The process-wide dict named ``memo`` kept under ``generation`` (a fresh one once the
    counter moved), for a cache of rows that writes bump ``generation`` for; or None when
    nothing may be kept: no counters, or ``session`` has such changes in flight (flushed
    ones of ``generation``, or ``model`` objects not flushed yet)."""
    generations = session.info.get("carebiz.generations")
    counters = generations.current() if generations is not None else None
    if counters is None or generation in session.info.get(PENDING, ()) or any(
            isinstance(obj, model) for obj in (*session.new, *session.dirty, *session.deleted)):
        return None
    value = counters.get(generation, 0)
    found = generations.memos.get(memo)
    if found is None or found[0] != value:
        found = generations.memos[memo] = (value, {})
    return found[1]


# -- bumping ---------------------------------------------------------------------------------


def install(factory: sessionmaker[Session], generations: Generations | None = None) -> None:
    """Bump the counters from every session the factory makes."""
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "do_orm_execute", _do_orm_execute)
    event.listen(factory, "before_commit", _before_commit)
    event.listen(factory, "after_transaction_end", _after_transaction_end)
    if generations is not None:
        factory.kw.setdefault("info", {})["carebiz.generations"] = generations


def _table(obj: Any) -> str:
    return inspect(obj).mapper.local_table.name


def _changed(obj: Any, table: str) -> bool:
    ignored = BOOKKEEPING.get(table, frozenset())
    return any(attr.history.has_changes() for attr in inspect(obj).attrs
               if attr.key not in ignored)


def _after_flush(session: Session, _context: Any) -> None:
    names: set[str] = set()
    for obj in [*session.new, *session.deleted]:
        name = WATCHED.get(_table(obj))
        if name:
            names.add(name)
    for obj in session.dirty:
        table = _table(obj)
        name = WATCHED.get(table)
        if name and name not in names and _changed(obj, table):
            names.add(name)
    if names:
        session.info.setdefault(PENDING, set()).update(names)


def _do_orm_execute(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    if state.execution_options.get(NEUTRAL):
        return
    table = getattr(state.statement, "table", None)
    name = WATCHED.get(getattr(table, "name", ""))
    if name:
        state.session.info.setdefault(PENDING, set()).add(name)


def _before_commit(session: Session) -> None:
    session.flush()  # so the changes flushed by the commit itself are seen
    names = session.info.pop(PENDING, None)
    if not names:
        return
    generations = session.info.get("carebiz.generations")
    if generations is not None and generations.current() is None:
        return  # no counters yet (before `carebiz db upgrade`): so no process caches anything
    conn = session.connection()
    table = CacheGeneration.__table__
    for name in sorted(names):  # always the same order: no deadlock between two writers
        done = conn.execute(update(table).where(table.c.name == name)
                            .values(value=table.c.value + 1))
        if not done.rowcount:
            conn.execute(_insert_or_bump(conn, name))
    if generations is not None:
        session.info["carebiz.generations_bumped"] = True


def _insert_or_bump(conn: Any, name: str) -> Any:
    """The first bump of a counter (tables made by ``create_all`` have no rows)."""
    table = CacheGeneration.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(name=name, value=1)
    return stmt.on_conflict_do_update(index_elements=[table.c.name],
                                      set_={"value": table.c.value + 1})


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is not None:
        return
    session.info.pop(PENDING, None)  # rolled back: nothing to announce
    if session.info.pop("carebiz.generations_bumped", False):
        # this process changed something: the request that did it reads the counters again
        session.info["carebiz.generations"].forget()
