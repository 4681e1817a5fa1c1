"""Row filters: which records a user may see.

Every list and query in the core and in plugins goes through :func:`visible`, which ANDs the
filters that switched-on plugins return from the ``row_filters`` hook (the core contributes the
branch rule for ``BranchOwned`` models)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app
from sqlalchemy import Select, and_, false, select

from carebiz.db import BranchOwned


def filters_for(model: type, user: Any, host: Any = None) -> list[Any]:
    host = host or current_app.extensions["carebiz"].host
    return host.collect("row_filters", model=model, user=user)


def visible(stmt: Select[Any], model: type, user: Any, host: Any = None) -> Select[Any]:
    """``stmt`` limited to the rows of ``model`` that ``user`` may see."""
    clauses = filters_for(model, user, host)
    return stmt.where(and_(*clauses)) if clauses else stmt


def branch_rule(model: type, user: Any) -> list[Any] | None:
    """The core's rule: ``BranchOwned`` rows only from the user's branches, unless the user
    sees all branches. Anonymous users see nothing."""
    if not (isinstance(model, type) and issubclass(model, BranchOwned)):
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return [false()]
    if user.all_branches or user.is_superuser:
        return None
    ids = sorted(user.branch_ids)
    return [model.branch_id.in_(ids)] if ids else [false()]


def hidden_ids(session: Any, model: type, user: Any, ids: Any, host: Any = None) -> set[Any]:
    """Of the ``ids`` of ``model``, those ``user`` may not see: the rows :func:`visible`
    leaves out, found in one query (none when no filter applies to the user). For the
    places that show a *linked* record — an owner, a duplicate, a name in an audit summary —
    and must withhold it by the same rule as every list. Without a user (the command line,
    the system itself) nothing is hidden."""
    wanted = {i for i in ids if i is not None}
    if not wanted or user is None:
        return set()
    clauses = filters_for(model, user, host)
    if not clauses:
        return set()
    found = session.scalars(select(model.id).where(model.id.in_(sorted(wanted)), *clauses))
    return wanted - set(found)


#: statements built by :func:`prepared`, by (caller's key, model, shape of the row filters)
_PREPARED: dict[Hashable, Select[Any]] = {}
#: more distinct filter shapes than this (users with many different branch sets): start over
PREPARED_LIMIT = 512


def prepared(key: Hashable, build: Callable[[], Select[Any]], model: type, user: Any,
             host: Any = None) -> Select[Any]:
    """``visible(build(), model, user)``, built once per process for each distinct set of
    row filters, for statements a page runs on every request (the 360° page runs seven).

    Building an ORM statement and computing its cache key costs more than SQLite takes to
    run it; a statement object used again keeps its cache key, so SQLAlchemy finds its
    compiled form at once. ``build`` must therefore take every per-call value as a
    ``bindparam`` (the caller passes them to ``execute``), and ``key`` must name everything
    else ``build`` depends on. The row filters are collected on every call, exactly as
    :func:`visible` does, and the statement is chosen by what they are now, their values
    included: a changed grant or branch, a switched-off plugin, picks (or builds) another
    statement on the very next request. Filters whose values cannot be compared are not
    kept: the statement is then built afresh."""
    clauses = filters_for(model, user, host)
    shape = _shape(clauses)
    if shape is None:
        stmt = build()
        return stmt.where(and_(*clauses)) if clauses else stmt
    full = (key, model, shape)
    stmt = _PREPARED.get(full)
    if stmt is None:
        if len(_PREPARED) >= PREPARED_LIMIT:
            _PREPARED.clear()
        stmt = build()
        if clauses:
            stmt = stmt.where(and_(*clauses))
        _PREPARED[full] = stmt
    return stmt


def _shape(clauses: list[Any]) -> tuple[Any, ...] | None:
    """A hashable stand-in for the filter clauses, values included (None: cannot tell)."""
    parts = []
    for clause in clauses:
        cache_key = clause._generate_cache_key()
        if cache_key is None:
            return None
        values = []
        for param in cache_key.bindparams:
            value = param.effective_value
            values.append(tuple(value) if isinstance(value, list) else value)
        parts.append((cache_key.key, tuple(values)))
    shape = tuple(parts)
    try:
        hash(shape)
    except TypeError:
        return None
    return shape
