"""Small things every CRM service needs: settings, the acting user, branch checks."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.errors import Forbidden, ValidationFailed
from carebiz.services import settings as settings_service


def host_of(session: Session) -> Any:
    return session.info["carebiz.host"]


def setting(session: Session, key: str) -> Any:
    return settings_service.get(session, host_of(session), key)


def check_branch(session: Session, user: Any, branch_id: Any, field: str = "branch_id") -> int:
    """The branch a record goes to must exist and be one the acting user works in."""
    from carebiz.models import Branch

    try:
        branch_id = int(branch_id)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Choose a branch."), {field: _("Required.")}) from None
    branch = session.get(Branch, branch_id)
    if branch is None or not branch.active:
        raise ValidationFailed(_("No active branch with id %(id)s.", id=branch_id),
                               {field: _("Unknown branch.")})
    acting = user is not None and getattr(user, "is_authenticated", False)
    if acting and not (user.all_branches or user.is_superuser or branch_id in user.branch_ids):
        message = _("You do not work in branch %(code)s.", code=branch.code)
        raise Forbidden(message, {field: message})
    return branch_id


def default_branch(user: Any) -> int | None:
    if user is None:
        return None
    if user.default_branch_id:
        return user.default_branch_id
    ids = sorted(user.branch_ids)
    return ids[0] if ids else None
