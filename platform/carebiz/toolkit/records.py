"""Loading the record a request names, through the row filters: a record outside the user's
branches answers exactly like one that does not exist (404), so ids reveal nothing."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz import db
from carebiz.security import visible

M = TypeVar("M")

#: the largest id a row can have (a 32-bit integer key); beyond it no record exists, and the
#: database driver would overflow before saying so
MAX_ID = 2**31 - 1


def record_id(value: Any) -> int | None:
    """``value`` as a record id (1 … :data:`MAX_ID`), None when it cannot be one."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None


def one_visible(model: type[M], value: Any, user: Any = None, *,
                session: Session | None = None) -> M | None:
    """The ``model`` row with id ``value`` if it exists and ``user`` (default: the current
    user) may see it under the row filters, else None. Read with ``session`` when given (a
    service, ``demo_data``, a job: it sees that session's uncommitted rows), else with the
    request's session."""
    number = record_id(value)
    if number is None:
        return None
    stmt = visible(select(model).where(model.id == number),  # type: ignore[attr-defined]
                   model, current_user if user is None else user)
    found: M | None = (db.session() if session is None else session).scalar(stmt)
    return found


def visible_or_404(model: type[M], value: Any, message: str | None = None) -> M:
    """The row the current user may see, else a 404 (the error page on pages, the error
    body under ``/api/``; ``message`` replaces the generic text)."""
    record = one_visible(model, value)
    if record is None:
        if message:
            abort(404, description=message)
        abort(404)
    return record
