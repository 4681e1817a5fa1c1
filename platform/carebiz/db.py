"""Database foundation: declarative base with a constraint naming convention, common column
types and mixins, and the per-app engine and session.

There is one declarative ``Base`` for the core and every plugin so that plugin tables can hold
foreign keys to core tables (customers, branches, users). Which plugin owns which table is told
by the ``models`` hook; migrations use that to keep one Alembic history per plugin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import weakref
from collections.abc import Callable
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, request
from sqlalchemy import JSON, DateTime, ForeignKey, MetaData, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every database.

    SQLite keeps no offset, so values are stored as naive UTC and handed back as aware UTC;
    naive input is refused because its meaning would depend on the server's clock.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware datetime (UTC)")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every CareBusiness model, core and plugins alike."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class TimestampMixin:
    """``created_at`` / ``updated_at`` kept by the ORM."""

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BranchOwned:
    """Marks a business record as belonging to one branch.

    The core's row filter limits every list and query over such a model to the branches the
    user is granted, so a plugin gets branch separation by adding this mixin.
    """

    @declared_attr
    def branch_id(cls) -> Mapped[int]:  # noqa: N805 - declared_attr receives the class
        return mapped_column(ForeignKey("branch.id"), index=True)


class Versioned:
    """Gives a record an integer ``version`` that every change raises by one or more, so two
    people editing the same record cannot silently overwrite each other (lost updates).

    Two checks use it, and a plugin's document gets both by adding this mixin:

    * **stale forms and API calls**: the edit form carries the version it showed in a
      hidden field, API answers carry it in ``version`` and the ``ETag`` header; the service
      compares it with :func:`carebiz.concurrency.check_version` before it writes;
    * **races between loading and writing**: ``version`` is SQLAlchemy's
      ``version_id_col``, so every UPDATE of the row says ``WHERE version = <loaded>``; a
      row changed meanwhile updates nothing and the session raises
      :class:`carebiz.concurrency.VersionConflict` (409) instead of writing over it.

    A change only to a record's own child rows (its phones, say) still counts: the
    session raises the version of a versioned record whose collections changed. Rows
    changed by bulk ``update()`` statements must raise it themselves (see
    :func:`carebiz.concurrency.bumped`). A model with its own ``__mapper_args__`` must add
    ``"version_id_col"`` to them. Compare versions for equality only; a transaction that
    flushes several times raises it by more than one."""

    version: Mapped[int] = mapped_column(default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805 - declared_attr receives the class
        return {"version_id_col": cls.__table__.c.version}


class CareBizSession(Session):
    """The platform's session: a write that lost a race against another change of a
    :class:`Versioned` record raises a 409 :class:`~carebiz.concurrency.VersionConflict`
    (a service error, so forms show it and the API answers it) instead of SQLAlchemy's
    ``StaleDataError``, which would be a 500."""

    def flush(self, objects: Any = None) -> None:
        try:
            super().flush(objects)
        except StaleDataError as exc:
            from carebiz.concurrency import VersionConflict

            raise VersionConflict.concurrent() from exc


def _bump_versions(session: Session, _context: Any, _instances: Any) -> None:
    """Raise the version of versioned records whose own child rows changed; a change of
    their columns raises it anyway, through ``version_id_col``."""
    for obj in session.dirty:
        if isinstance(obj, Versioned) and session.is_modified(obj):
            state = sa_inspect(obj)
            committed = state.committed_state.get("version", obj.version)
            if obj.version == committed:
                obj.version = committed + 1


def make_engine(url: str, echo: bool = False) -> Engine:
    """Create the engine; on SQLite switch on foreign keys, WAL and a busy timeout so several
    worker processes can share the file."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        memory = url in ("sqlite://", "sqlite:///:memory:")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "savepoint")
        def _sqlite_begin_before_savepoint(conn: Any, _name: str) -> None:
            """Python's sqlite3 opens a transaction only before a data-changing statement, so
            a SAVEPOINT issued first starts a transaction of its own, and releasing it
            commits at once (a later rollback then keeps those rows). Open the real
            transaction first, as a write transaction (IMMEDIATE: a savepoint is taken to
            write): it waits for the write lock now, so reads inside it never see a snapshot
            that another writer makes stale, which would fail every later write with
            "database is locked". Reads outside transactions stay as the driver intends."""
            raw = conn.connection.dbapi_connection
            if raw is not None and not raw.in_transaction:
                raw.execute("BEGIN IMMEDIATE")

    return engine


def make_session_factory(engine: Engine, info: dict[str, Any]) -> sessionmaker[Session]:
    """Sessions carry ``info['carebiz.host']`` so services (which know nothing of Flask) can
    still reach the plugin host, e.g. to dispatch domain events after commit. Every flush
    first checks the text of new and changed rows (:func:`carebiz.text.check_text_columns`),
    so no model, core or plugin, stores text too long for its column or unfit for files."""
    from carebiz.text import check_text_columns

    factory = sessionmaker(bind=engine, class_=CareBizSession, expire_on_commit=False,
                           info=info)
    event.listen(factory, "before_flush", _bump_versions)
    event.listen(factory, "before_flush", check_text_columns)
    event.listen(factory, "before_flush", _refuse_writes)
    return factory


READ_ONLY = "_carebiz_read_only"


def read_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a GET view that only reads. On PostgreSQL its request's session then runs without
    a transaction (autocommit): psycopg would otherwise send ``BEGIN`` before the first
    statement and the pool a ``ROLLBACK`` after the last — two of the four round trips of
    ``GET /api/v1/customers/<id>``. Under PostgreSQL's default READ COMMITTED every
    statement takes its own snapshot anyway, so a reader sees nothing it would not have
    seen in a transaction. A flush in such a session is refused (:func:`_refuse_writes`):
    a view that writes must not carry the mark. SQLite is unchanged (its driver sends no
    ``BEGIN`` for reads)."""
    setattr(view, READ_ONLY, True)
    return view


def need_transaction() -> None:
    """The current request will not be answered by its (read-only) view after all but by
    work that needs a transaction: a list endpoint asked for a file streams its rows through
    a server-side cursor, which PostgreSQL opens only inside one. A read-only session made
    already is closed; the next :func:`session` is an ordinary one."""
    if not has_app_context():
        return
    g._carebiz_needs_transaction = True
    sess = g.get("_carebiz_session")
    if sess is not None and sess.info.get("carebiz.read_only"):
        g.pop("_carebiz_session", None)
        sess.close()


def _read_only_request() -> bool:
    """Whether the current request is a GET or HEAD whose view carries :func:`read_only`
    (a plain view function, or the ``get`` of a ``MethodView``), and nothing asked for a
    transaction (:func:`need_transaction`)."""
    if not has_request_context() or request.method not in ("GET", "HEAD") \
            or g.get("_carebiz_needs_transaction"):
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    cls = getattr(view, "view_class", None)
    if cls is not None:
        view = getattr(cls, request.method.lower(), None) or getattr(cls, "get", None)
    return bool(getattr(view, READ_ONLY, False))


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get("carebiz.read_only") and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a view marked carebiz.db.read_only tried to write; remove the mark")


def session() -> Session:
    """The current app context's session, created on first use and closed at teardown."""
    if not has_app_context():
        raise RuntimeError("carebiz.db.session() needs an application context")
    sess = g.get("_carebiz_session")
    if sess is None:
        ext = current_app.extensions["carebiz"]
        if not _read_only_request():
            sess = ext.session_factory()
        elif ext.engine.dialect.name == "postgresql":
            sess = ext.session_factory(bind=_autocommit_engine(ext.engine))
            sess.info["carebiz.read_only"] = True
        else:  # same guard on SQLite, so a mis-marked view fails in every test run
            sess = ext.session_factory()
            sess.info["carebiz.read_only"] = True
        g._carebiz_session = sess
    return sess


_AUTOCOMMIT: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()


def _autocommit_engine(engine: Engine) -> Engine:
    """The engine's autocommit variant, sharing its pool (connections get their isolation
    level back when returned); made once per engine, not per request."""
    found = _AUTOCOMMIT.get(engine)
    if found is None:
        found = _AUTOCOMMIT[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


def rollback_session() -> None:
    """Roll back the current request's session, if it has one, and never raise. Error
    handlers call it first: the failed work must not be committed by anything later, and a
    session whose flush failed refuses every query (``PendingRollbackError``) until rolled
    back — the error page itself queries (the navigation needs the user's roles)."""
    if not has_app_context():
        return
    sess = g.get("_carebiz_session")
    if sess is None:
        return
    try:
        sess.rollback()
    except Exception:  # a broken connection: start afresh with a new session
        g.pop("_carebiz_session", None)
        with contextlib.suppress(Exception):
            sess.close()


def after_session(work: Callable[[], None]) -> None:
    """Run ``work`` once the current app context's session is closed (at teardown), or at
    once outside an app context. For bookkeeping writes on a connection of their own (a
    token's last use): done inside the request they would commit the request's pending work
    early, or wait on the write lock that work holds."""
    if not has_app_context():
        work()
        return
    g.setdefault("_carebiz_after_session", []).append(work)


def close_session(_exc: BaseException | None = None) -> None:
    sess = g.pop("_carebiz_session", None)
    if sess is not None:
        sess.close()
    for work in g.pop("_carebiz_after_session", ()):
        try:
            work()
        except Exception:  # bookkeeping never fails a finished request
            log.exception("work after the request's session failed")
