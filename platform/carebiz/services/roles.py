"""Roles as data, and the built-in set every business starts with."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.errors import Conflict, NotFound, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import Role, RolePermission
from carebiz.signals import core as signals

#: name -> translatable label of the roles every business starts with
BUILTIN_ROLES: dict[str, Any] = {
    "admin": _l("Administrator"),
    "manager": _l("Manager"),
    "salesperson": _l("Salesperson"),
    "service_adviser": _l("Service adviser"),
    "technician": _l("Technician"),
    "parts_clerk": _l("Parts clerk"),
    "dispatcher": _l("Dispatcher"),
    "read_only": _l("Read-only"),
}


def role_label(role: Role) -> str:
    label = BUILTIN_ROLES.get(role.name)
    return str(label) if label is not None else (role.label or role.name)


def get_role(session: Session, name: str) -> Role:
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        known = ", ".join(session.scalars(select(Role.name).order_by(Role.name)))
        raise NotFound(_("No role named '%(name)s' (roles: %(known)s).", name=name, known=known))
    return role


def sync_roles(session: Session, permissions: Iterable[Any]) -> list[str]:
    """Create missing built-in roles and grant newly registered permissions to their default
    roles. A permission an admin later removed from a role is not granted again: only
    permissions never seen before are granted (they are remembered on the admin role, which
    is a superuser and needs no grants). Returns the names of the permissions granted."""
    roles = {r.name: r for r in session.scalars(select(Role))}
    for name, label in BUILTIN_ROLES.items():
        if name not in roles:
            role = Role(name=name, label=str(label), builtin=True, superuser=(name == "admin"))
            session.add(role)
            roles[name] = role
    session.flush()
    admin = roles["admin"]
    seen = admin.permission_names
    granted: list[str] = []
    for perm in permissions:
        if perm.name in seen:
            continue
        admin.grants.append(RolePermission(permission=perm.name))
        for role_name in perm.default_roles:
            role = roles.get(role_name)
            if role is not None and role is not admin:
                role.grants.append(RolePermission(permission=perm.name))
        granted.append(perm.name)
    session.flush()
    return granted


def create_role(session: Session, name: str, label: str, permissions: Iterable[str],
                known: Iterable[str]) -> Role:
    name = (name or "").strip().lower()
    if not name or not name.replace("_", "").isalnum():
        raise ValidationFailed(_("Invalid role name."),
                               {"name": _("Use letters, digits and _ only.")})
    if session.scalar(select(Role).where(Role.name == name)) is not None:
        raise Conflict(_("A role named '%(name)s' already exists.", name=name),
                       {"name": _("Already taken.")})
    permissions = list(permissions)
    _check_known(permissions, known)  # before anything is added to the session
    role = Role(name=name, label=label or name)
    session.add(role)
    session.flush()
    set_permissions(session, role, permissions, known)
    return role


def _check_known(permissions: Iterable[str], known: Iterable[str]) -> None:
    unknown = set(permissions) - set(known)
    if unknown:
        raise ValidationFailed(
            _("Unknown permissions: %(names)s", names=", ".join(sorted(unknown))),
            {"permissions": _("Unknown: %(names)s", names=", ".join(sorted(unknown)))},
        )


def set_permissions(session: Session, role: Role, permissions: Iterable[str],
                    known: Iterable[str]) -> Role:
    """Set which of the ``known`` (registered) permissions the role holds. Grants of
    permissions that are not registered now (their plugin is switched off or not loaded) are
    kept, so switching that plugin back on restores the role as it was."""
    known = set(known)
    wanted = set(permissions)
    _check_known(wanted, known)
    before = sorted(role.permission_names)
    current = {g.permission for g in role.grants}
    # not on the form: other plugins' grants; and the admin role's memory of seen permissions
    keep = current if role.superuser else current - known
    role.grants = [RolePermission(permission=p) for p in sorted(wanted | keep)]
    session.flush()
    after = sorted(role.permission_names)
    if after != before:
        emit(session, signals.role_updated, role_id=role.id, name=role.name, permissions=after,
             audit=Audit("role", role.id, N_("Permissions of role %(name)s changed"),
                         {"permissions": before}, {"permissions": after},
                         args={"name": role.name}))
    return role


def rename_role(session: Session, role: Role, label: str) -> Role:
    """Change a role's display label (its name is a stable key and does not change)."""
    label = (label or "").strip()
    if not label or len(label) > 200:
        raise ValidationFailed(_("The label is required (at most 200 characters)."),
                               {"label": _("Required, at most 200 characters.")})
    if label != role.label:
        before = role.label
        role.label = label
        session.flush()
        emit(session, signals.role_updated, role_id=role.id, name=role.name,
             permissions=sorted(role.permission_names),
             audit=Audit("role", role.id, N_("Label of role %(name)s changed"),
                         {"label": before}, {"label": label}, args={"name": role.name}))
    return role
