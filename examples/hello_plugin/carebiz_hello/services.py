"""Business rules of greetings, free of Flask: the page, the API, the demo loader and any
background job call the same functions, so a rule stated here holds everywhere.

Services add to the session and flush, but never commit: the caller owns the transaction,
and domain events recorded here are sent only once it commits.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import Branch
from carebiz.services.branches import default_branch_for

from . import signals
from .models import MESSAGE_LENGTH, Greeting


def writable_branch_ids(user: Any) -> set[int] | None:
    """Branches ``user`` may write greetings in; ``None`` means every branch (company-wide
    users, superusers, and the system itself when ``user`` is ``None``)."""
    if user is None or user.all_branches or user.is_superuser:
        return None
    return set(user.branch_ids)


def _pick_branch(session: Session, user: Any, branch_id: int | None) -> int | None:
    """An explicit branch wins; otherwise the core's one rule for every branch-owned record
    (the author's default branch, or their only one, ...), so a single-branch business never
    names its branch here either."""
    if branch_id is not None:
        return branch_id
    branch = default_branch_for(session, user)
    return branch.id if branch is not None else None


def create_greeting(session: Session, *, message: str | None, author: Any = None,
                    branch_id: int | None = None, customer_id: int | None = None) -> Greeting:
    """Write a greeting and record ``hello.greeting.created`` (audited now, sent after commit).

    Every broken rule is reported at once, by field, so a form or an API client can show all
    of them: ``message`` must have 1 to 200 characters once trimmed, the branch must exist and
    be one the author may write in, and ``customer_id`` must be a positive number if given.
    """
    errors: dict[str, str] = {}
    text = (message or "").strip()
    if not text:
        errors["message"] = _("Write a message.")
    elif len(text) > MESSAGE_LENGTH:
        errors["message"] = _("At most %(max)d characters.", max=MESSAGE_LENGTH)

    chosen = _pick_branch(session, author, branch_id)
    allowed = writable_branch_ids(author)
    if chosen is None:
        errors["branch_id"] = _("Choose a branch.")
    elif session.get(Branch, chosen) is None:
        errors["branch_id"] = _("No such branch.")
    elif allowed is not None and chosen not in allowed:
        errors["branch_id"] = _("You may not write greetings in this branch.")

    if customer_id is not None and customer_id < 1:
        errors["customer_id"] = _("Not a valid customer number.")

    if errors:
        raise ValidationFailed(_("The greeting was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)

    greeting = Greeting(message=text, branch_id=chosen, customer_id=customer_id,
                        author_id=getattr(author, "id", None))
    session.add(greeting)
    session.flush()  # the id is needed for the audit entry and the event
    emit(session, signals.greeting_created, greeting_id=greeting.id,
         branch_id=greeting.branch_id, customer_id=greeting.customer_id,
         author_id=greeting.author_id, message=greeting.message,
         audit=Audit("hello_greeting", greeting.id, N_("Greeting %(id)s written"),
                     args={"id": greeting.id},
                     after={"message": greeting.message, "customer_id": customer_id},
                     branch_id=greeting.branch_id))
    return greeting


def count_in_branch(session: Session, branch_id: int) -> int:
    """How many greetings a branch holds (the demo loader uses it to stay idempotent)."""
    stmt = select(func.count()).select_from(Greeting).where(Greeting.branch_id == branch_id)
    return int(session.scalar(stmt) or 0)
