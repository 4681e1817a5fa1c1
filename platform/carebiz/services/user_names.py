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

from carebiz.generations import PENDING, SECURITY
from carebiz.models import User

#: the process-wide memo, in ``Generations.memos``: (security counter, {id: name or None})
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
    generations = session.info.get("carebiz.generations")
    counters = generations.current() if generations is not None else None
    keep = counters is not None and SECURITY not in session.info.get(PENDING, ()) and not any(
        isinstance(obj, User) for obj in (*session.new, *session.dirty, *session.deleted))
    known: dict[int, str | None] = {}
    if keep:
        memo = generations.memos.get(NAMES_MEMO)
        if memo is not None and memo[0] == counters.get(SECURITY, 0):
            known = memo[1]
        else:
            generations.memos[NAMES_MEMO] = (counters.get(SECURITY, 0), known)
    missing = [i for i in wanted if i not in known]
    if missing:
        found: dict[int, str | None] = dict.fromkeys(missing)  # a user gone stays unnamed
        for row in session.execute(_names_statement(), {"ids": missing}):
            found[row.id] = row.display_name or row.username
        if keep and len(known) + len(found) > NAMES_LIMIT:
            known.clear()
        known.update(found)  # the memo's dict, or this call's own when nothing is kept
    return {i: name for i in wanted if (name := known.get(i)) is not None}
