"""The administration lists (users, branches, audit log), declared once: each page, its
``?format=`` answer and ``/export/<name>`` read the same definition."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from carebiz.export.table import BOOL, DATETIME, NUMBER, Column
from carebiz.lists import CHOICE, ExportSpec, Filter, ListDefinition, Search, Searched
from carebiz.models import AuditEntry, Branch, Role, User
from carebiz.models.audit import for_reader
from carebiz.services import audit_labels

STATUSES = ("active", "inactive")


def _status(model: type) -> Filter:
    """``?status=active|inactive`` on a model with an ``active`` flag."""
    return Filter("status", _l("Status"), type=CHOICE, choices=STATUSES,
                  apply=lambda stmt, value, user: stmt.where(
                      model.active.is_(value == "active")))


def _contains(*columns: Any) -> Search:
    """A search for the text anywhere in one of ``columns``."""
    def search(session: Session, user: Any, stmt: Select[Any], q: str) -> Searched:
        return Searched(stmt.where(or_(*(c.icontains(q, autoescape=True) for c in columns))))

    return Search(search)


# -- users -------------------------------------------------------------------------------------


def _user_columns(user: Any) -> list[Column]:
    return [Column("id", _("Id"), NUMBER), Column("username", _("User name")),
            Column("name", _("Name")), Column("email", _("Email")),
            Column("roles", _("Roles")), Column("branches", _("Branches")),
            Column("active", _("Active"), BOOL),
            Column("last_login", _("Last login"), DATETIME)]


def _user_rows(session: Session, user: Any, stmt: Select[Any]) -> Iterator[Mapping[str, Any]]:
    from carebiz.services.roles import role_label

    for found in session.scalars(stmt.execution_options(yield_per=500)):
        branches = _("All branches") if found.all_branches else " ".join(
            sorted(b.code for b in found.branches))
        yield {"id": found.id, "username": found.username, "name": found.display_name,
               "email": found.email, "roles": ", ".join(role_label(r) for r in found.roles),
               "branches": str(branches), "active": found.active,
               "last_login": found.last_login_at}


USERS = ListDefinition(
    name="admin.users", label=_l("Users"), model=User, key=User.id,
    permission="admin.users", page="admin.users",
    filters=(Filter("role", _l("Role"), max_length=80,
                    apply=lambda stmt, value, user: stmt.where(
                        User.roles.any(Role.name == value))),
             _status(User)),
    search=_contains(User.username, User.display_name, User.email),
    sorts={"username": User.username, "name": User.display_name,
           "last_login": User.last_login_at},
    default_sort="username",
    export=ExportSpec(_l("Users"), _user_columns, _user_rows),
)


# -- branches ----------------------------------------------------------------------------------


def _branch_columns(user: Any) -> list[Column]:
    return [Column("id", _("Id"), NUMBER), Column("code", _("Code")), Column("name", _("Name")),
            Column("address", _("Address")), Column("phone", _("Phone")),
            Column("active", _("Active"), BOOL)]


def _branch_rows(session: Session, user: Any,
                 stmt: Select[Any]) -> Iterator[Mapping[str, Any]]:
    for branch in session.scalars(stmt.execution_options(yield_per=500)):
        yield {"id": branch.id, "code": branch.code, "name": branch.name,
               "address": branch.address, "phone": branch.phone, "active": branch.active}


BRANCHES = ListDefinition(
    name="admin.branches", label=_l("Branches"), model=Branch, key=Branch.id,
    permission="admin.branches", page="admin.branches",
    filters=(_status(Branch),),
    search=_contains(Branch.code, Branch.name),
    sorts={"code": Branch.code, "name": Branch.name}, default_sort="code",
    export=ExportSpec(_l("Branches"), _branch_columns, _branch_rows),
)


# -- audit log ---------------------------------------------------------------------------------

def changes_text(entry: AuditEntry) -> str:
    """An entry's changes on one line as people read them: ``Branch: Shanghai Pudong →
    Beijing`` (a creation: what is set), labelled by :mod:`carebiz.services.audit_labels`."""
    return audit_labels.changes_line(entry)


def _audit_columns(user: Any) -> list[Column]:
    return [Column("id", _("Id"), NUMBER), Column("at", _("When"), DATETIME),
            Column("who", _("Who")), Column("entity_type", _("Record type")),
            Column("entity_id", _("Record id")), Column("branch", _("Branch")),
            Column("event", _("Event")), Column("what", _("What")),
            Column("changes", _("Changes"))]


def _audit_rows(session: Session, user: Any,
                stmt: Select[Any]) -> Iterator[Mapping[str, Any]]:
    codes = {b.id: b.code for b in session.scalars(select(Branch))}
    for chunk in session.scalars(stmt.execution_options(yield_per=1000)).partitions():
        for entry in audit_labels.label_entries(session, for_reader(session, chunk, user),
                                                user):
            yield {"id": entry.id, "at": entry.at, "who": entry.actor_label,
                   "entity_type": entry.entity_type, "entity_id": entry.entity_id,
                   "branch": codes.get(entry.branch_id, "") if entry.branch_id else "",
                   "event": audit_labels.event_text(entry), "what": entry.summary_text,
                   "changes": changes_text(entry)}


def _equal(name: str, label: Any, column: Any) -> Filter:
    return Filter(name, label, max_length=200,
                  apply=lambda stmt, value, user: stmt.where(column == value))


AUDIT = ListDefinition(
    name="admin.audit", label=_l("Audit log"), model=AuditEntry, key=AuditEntry.id,
    permission="audit.view", page="admin.audit",
    filters=(_equal("entity_type", _l("Record type"), AuditEntry.entity_type),
             _equal("entity_id", _l("Record id"), AuditEntry.entity_id),
             _equal("actor", _l("Who"), AuditEntry.actor_name)),
    sorts={"id": AuditEntry.id}, default_sort="-id",
    export=ExportSpec(_l("Audit log"), _audit_columns, _audit_rows),
)
