"""Row filters: which records a user may see.

Every list and query in the core and in plugins goes through :func:`visible`, which ANDs the
filters that switched-on plugins return from the ``row_filters`` hook (the core contributes the
branch rule for ``BranchOwned`` models)."""

from __future__ import annotations

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
