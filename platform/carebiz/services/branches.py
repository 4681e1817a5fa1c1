"""Branches of the company."""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, diff, emit
from carebiz.generations import SECURITY, kept
from carebiz.i18n import N_
from carebiz.models import Branch
from carebiz.signals import core as signals

FIELDS = ("code", "name", "address", "phone", "active")


class BranchRow(NamedTuple):
    """What lists show of a branch (its code beside each record, the branch filter)."""

    id: int
    code: str
    name: str
    active: bool


#: the process-wide memo of :func:`branch_rows` (``carebiz.generations.kept``)
ROWS_MEMO = "branches"


def branch_rows(session: Session) -> tuple[BranchRow, ...]:
    """Every branch as plain rows, kept per process under the security generation (a list
    page shows each record's branch code; any change to a branch, in any worker, bumps the
    counter in its own transaction, so the next request everywhere reads them again).
    Nothing is kept without counters, nor from a session with branch changes in flight."""
    memo = kept(session, SECURITY, ROWS_MEMO, Branch)
    if memo is not None and "rows" in memo:
        found: tuple[BranchRow, ...] = memo["rows"]
        return found
    rows = tuple(BranchRow(*row) for row in session.execute(
        select(Branch.id, Branch.code, Branch.name, Branch.active).order_by(Branch.id)))
    if memo is not None:
        memo["rows"] = rows
    return rows


def _snapshot(branch: Branch) -> dict[str, Any]:
    return {f: getattr(branch, f) for f in FIELDS}


def save_branch(session: Session, branch: Branch | None = None, *,
                expected_version: int | list[int] | None = None, **values: Any) -> Branch:
    """Create (``branch`` None) or edit a branch. Codes are unique and upper-cased.
    ``expected_version``: the version the editor saw (None: last write wins)."""
    if branch is not None:
        check_version(session, branch, expected_version, entity_type="branch",
                      current=_snapshot(branch))
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationFailed(_("Unknown fields: %(names)s", names=", ".join(sorted(unknown))))
    created = branch is None
    if "code" in values:
        values["code"] = (values["code"] or "").strip().upper()
    errors = {}
    if created or "code" in values:
        code = values.get("code", "")
        if not code or len(code) > 32:
            errors["code"] = _("Required, at most 32 characters.")
        else:
            other = session.scalar(select(Branch).where(Branch.code == code))
            if other is not None and other is not branch:
                raise Conflict(_("A branch with code %(code)s exists already.", code=code),
                               {"code": _("Already taken.")})
    if (created or "name" in values) and not (values.get("name") or "").strip():
        errors["name"] = _("Required.")
    if errors:
        raise ValidationFailed(_("The branch is not valid."), errors)
    before = _snapshot(branch) if branch else None
    if branch is None:
        branch = Branch()
        session.add(branch)
    for field, value in values.items():
        setattr(branch, field, value)
    session.flush()
    after = _snapshot(branch)
    old, new = diff(before, after) if before else (None, after)
    emit(session, signals.branch_saved, branch_id=branch.id, created=created,
         audit=Audit("branch", branch.id, N_("Branch %(code)s saved"), old, new,
                     args={"code": branch.code},
                     branch_id=branch.id, version=branch.version))
    return branch


# -- the branch a new record goes to -------------------------------------------------------

#: code and name of the branch an install gets when it never named one (renamable later)
FIRST_BRANCH_CODE = "MAIN"
FIRST_BRANCH_NAME = "Main"


def _acting(user: Any) -> bool:
    """Services run with a person (checked against their branches) or without one (CLI,
    jobs, demo data: not limited), as :func:`carebiz.crm.services.common.check_branch`."""
    return user is not None and bool(getattr(user, "is_authenticated", False))


def _sees_all(user: Any) -> bool:
    return not _acting(user) or bool(user.all_branches or user.is_superuser)


def usable_branches(session: Session, user: Any) -> list[Branch]:
    """Active branches ``user`` may put new records in, by code: every active branch for a
    company-wide user (and for work done without a user), else the user's own."""
    stmt = select(Branch).where(Branch.active.is_(True)).order_by(Branch.code)
    if not _sees_all(user):
        stmt = stmt.where(Branch.id.in_(sorted(user.branch_ids) or [-1]))
    return list(session.scalars(stmt))


def default_branch_for(session: Session, user: Any, *, create: bool = True) -> Branch | None:
    """The branch a new ``BranchOwned`` record of ``user`` goes to when none is named, or
    None when the user must choose. Every create path (core and plugins, API, forms, imports)
    uses this one rule, so a single-branch business never has to name its branch:

    1. the user's default branch, if it is active and theirs to use;
    2. else the only active branch the user may use (their one branch, or the one branch of
       the install for a company-wide user);
    3. else, when the install has no branch at all (users made with ``carebiz users create``
       before anyone named a branch) and the user may work everywhere, the first branch
       ``MAIN`` "Main" is created (``create=False`` only asks, e.g. to pre-fill a form);
    4. else None: several branches and no default — the caller reports "Choose a branch".

    Creating the first branch is safe when two requests do it at once: the second one's
    insert fails on the unique code inside a savepoint and it takes the first one's branch.
    """
    branches = usable_branches(session, user)
    if _acting(user) and user.default_branch_id:
        for branch in branches:
            if branch.id == user.default_branch_id:
                return branch
    if len(branches) == 1:
        return branches[0]
    if branches or not create or not _sees_all(user):
        return None
    if session.scalar(select(Branch.id).limit(1)) is not None:
        return None  # branches exist but are all switched off: nothing to guess
    return _first_branch(session)


def _first_branch(session: Session) -> Branch:
    try:
        with session.begin_nested():
            return save_branch(session, None, code=FIRST_BRANCH_CODE, name=FIRST_BRANCH_NAME)
    except (IntegrityError, Conflict):  # created at the same moment by another request
        branch = session.scalar(select(Branch).where(Branch.code == FIRST_BRANCH_CODE))
        if branch is None:
            raise
        return branch
