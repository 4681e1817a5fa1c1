"""Display names of users by id, for the pages that name authors and assignees.

The 360° page names the author of each timeline entry and the assignee of each follow-up on
every view, and those names change only when a user account does. So they are kept per
process under the security generation, as the branch rows are
(:func:`carebiz.services.branches.branch_rows`): any write to ``user_account``, in any
worker, bumps that counter in its own transaction, and the next request everywhere reads the
names again. Nothing is kept without counters, nor from a session with user changes in
flight.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from carebiz.generations import SECURITY, kept
from carebiz.models import User

#: the process-wide memo (``carebiz.generations.kept``): {id: name, or None for no such user}
NAMES_MEMO = "user_names"
#: more users named than this since the last change: start over
NAMES_LIMIT = 10_000


@cache
def _names_statement() -> Select[Any]:
    """Built once: building it cost more than running it."""
    return (select(User.id, User.display_name, User.username)
            .where(User.id.in_(bindparam("ids", expanding=True))))


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """``{id: display name (else the username)}`` of the users among ``ids`` that exist."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    memo = kept(session, SECURITY, NAMES_MEMO, User)
    known: dict[int, str | None] = memo if memo is not None else {}
    missing = [i for i in wanted if i not in known]
    if missing:
        found: dict[int, str | None] = dict.fromkeys(missing)  # a user gone stays unnamed
        for row in session.execute(_names_statement(), {"ids": missing}):
            found[row.id] = row.display_name or row.username
        if len(known) + len(found) > NAMES_LIMIT:
            known.clear()
        known.update(found)  # the memo, or this call's own dict when nothing is kept
    return {i: name for i in wanted if (name := known.get(i)) is not None}
