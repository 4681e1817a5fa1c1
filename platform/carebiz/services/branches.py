"""Branches of the company."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, diff, emit
from carebiz.i18n import N_
from carebiz.models import Branch
from carebiz.signals import core as signals

FIELDS = ("code", "name", "address", "phone", "active")


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
