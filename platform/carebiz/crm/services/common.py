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


def default_branch(session: Session, user: Any, *, create: bool = True) -> int | None:
    """Id of :func:`carebiz.services.branches.default_branch_for` (the one rule)."""
    from carebiz.services.branches import default_branch_for

    branch = default_branch_for(session, user, create=create)
    return branch.id if branch is not None else None


def clean_branch_and_custom(session: Session, entity: str, data: dict[str, Any], record: Any,
                            user: Any, out: dict[str, Any], errors: dict[str, str]) -> None:
    """What every CRM record has, validated the same way for customers and vehicles: its
    branch (default: the user's) and the admin-defined custom fields."""
    from carebiz.crm.services import custom_fields

    creating = record is None
    if creating or "branch_id" in data:
        branch = data.get("branch_id") or default_branch(session, user)
        try:
            out["branch_id"] = check_branch(session, user, branch)
        except (ValidationFailed, Forbidden) as exc:  # reported with every other field
            errors.update(exc.errors)
    if "custom" in data or creating:
        values, custom_errors = custom_fields.clean_values(
            session, entity, data.get("custom"), record.custom if record else None)
        errors.update(custom_errors)
        out["custom"] = values
