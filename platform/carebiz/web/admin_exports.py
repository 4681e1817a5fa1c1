"""The administration lists (users, branches, audit log) as exportable data sets: the same
search, filters, order and row filters as their pages, without a request (export jobs)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from carebiz.export.table import BOOL, DATETIME, NUMBER, Column, Table
from carebiz.models import AuditEntry, Branch, Role, User
from carebiz.models.audit import for_reader
from carebiz.security.rows import visible

AUDIT_FILTERS = ("entity_type", "entity_id", "actor")


def _text(args: Mapping[str, Any], key: str) -> str:
    return str(args.get(key) or "").strip()


def _sorted(stmt: Any, columns: dict[str, Any], wanted: str, default: str,
            tiebreak: Any) -> Any:
    """The pages' ``?sort=col`` / ``?sort=-col`` limited to ``columns``."""
    key = wanted.lstrip("-")
    if key not in columns:
        wanted, key = default, default
    column = columns[key]
    return stmt.order_by(column.desc() if wanted.startswith("-") else column.asc(), tiebreak)


def _count(sess: Session, stmt: Any) -> int:
    return sess.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def _status(args: Mapping[str, Any]) -> str:
    status = _text(args, "status")
    return status if status in ("active", "inactive") else ""


def users_table(sess: Session, user: Any, args: Mapping[str, Any]) -> Table:
    """The users list as filtered on its page."""
    from carebiz.services.roles import role_label

    stmt = select(User)
    q, role, status = _text(args, "q"), _text(args, "role"), _status(args)
    if q:
        stmt = stmt.where(or_(User.username.icontains(q, autoescape=True),
                              User.display_name.icontains(q, autoescape=True),
                              User.email.icontains(q, autoescape=True)))
    if role:
        stmt = stmt.where(User.roles.any(Role.name == role))
    if status:
        stmt = stmt.where(User.active.is_(status == "active"))
    stmt = _sorted(stmt, {"username": User.username, "name": User.display_name,
                          "last_login": User.last_login_at},
                   _text(args, "sort") or "username", "username", User.id)
    cols = [Column("id", _("Id"), NUMBER), Column("username", _("User name")),
            Column("name", _("Name")), Column("email", _("Email")),
            Column("roles", _("Roles")), Column("branches", _("Branches")),
            Column("active", _("Active"), BOOL),
            Column("last_login", _("Last login"), DATETIME)]

    def rows() -> Any:
        for found in sess.scalars(stmt.execution_options(yield_per=500)):
            branches = _("All branches") if found.all_branches else " ".join(
                sorted(b.code for b in found.branches))
            yield {"id": found.id, "username": found.username, "name": found.display_name,
                   "email": found.email,
                   "roles": ", ".join(role_label(r) for r in found.roles),
                   "branches": str(branches), "active": found.active,
                   "last_login": found.last_login_at}

    described = [f"{_('Search')}: {q}"] if q else []
    described += [f"{k}: {v}" for k, v in (("role", role), ("status", status)) if v]
    return Table(_("Users"), cols, rows(), filters=described, total=_count(sess, stmt))


def branches_table(sess: Session, user: Any, args: Mapping[str, Any]) -> Table:
    """The branches list as filtered on its page."""
    stmt = select(Branch)
    q, status = _text(args, "q"), _status(args)
    if q:
        stmt = stmt.where(or_(Branch.code.icontains(q, autoescape=True),
                              Branch.name.icontains(q, autoescape=True)))
    if status:
        stmt = stmt.where(Branch.active.is_(status == "active"))
    stmt = _sorted(stmt, {"code": Branch.code, "name": Branch.name},
                   _text(args, "sort") or "code", "code", Branch.id)
    cols = [Column("id", _("Id"), NUMBER), Column("code", _("Code")), Column("name", _("Name")),
            Column("address", _("Address")), Column("phone", _("Phone")),
            Column("active", _("Active"), BOOL)]

    def rows() -> Any:
        for branch in sess.scalars(stmt.execution_options(yield_per=500)):
            yield {"id": branch.id, "code": branch.code, "name": branch.name,
                   "address": branch.address, "phone": branch.phone, "active": branch.active}

    described = [f"{_('Search')}: {q}"] if q else []
    described += [f"status: {status}"] if status else []
    return Table(_("Branches"), cols, rows(), filters=described, total=_count(sess, stmt))


def _value(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes_text(entry: AuditEntry) -> str:
    """An entry's changes on one line: ``field: before → after`` (a creation: what is set)."""
    before, after = entry.before or {}, entry.after or {}
    keys = list(after) + [k for k in before if k not in after]
    if entry.before is None:
        return "; ".join(f"{k}: {_value(after.get(k))}" for k in keys
                         if after.get(k) not in (None, "", [], {}))
    return "; ".join(f"{k}: {_value(before.get(k))} → {_value(after.get(k))}" for k in keys)


def audit_table(sess: Session, user: Any, args: Mapping[str, Any]) -> Table:
    """The audit log as filtered on its page, limited to the entries the user may read."""
    filters = {k: _text(args, k) for k in AUDIT_FILTERS}
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if filters["entity_type"]:
        stmt = stmt.where(AuditEntry.entity_type == filters["entity_type"])
    if filters["entity_id"]:
        stmt = stmt.where(AuditEntry.entity_id == filters["entity_id"])
    if filters["actor"]:
        stmt = stmt.where(AuditEntry.actor_name == filters["actor"])
    stmt = visible(stmt, AuditEntry, user)
    codes = {b.id: b.code for b in sess.scalars(select(Branch))}
    cols = [Column("id", _("Id"), NUMBER), Column("at", _("When"), DATETIME),
            Column("who", _("Who")), Column("entity_type", _("Record type")),
            Column("entity_id", _("Record id")), Column("branch", _("Branch")),
            Column("event", _("Event")), Column("what", _("What")),
            Column("changes", _("Changes"))]

    def rows() -> Any:
        for chunk in sess.scalars(stmt.execution_options(yield_per=1000)).partitions():
            for entry in for_reader(sess, chunk, user):
                yield {"id": entry.id, "at": entry.at, "who": entry.actor_label,
                       "entity_type": entry.entity_type, "entity_id": entry.entity_id,
                       "branch": codes.get(entry.branch_id, "") if entry.branch_id else "",
                       "event": entry.event, "what": entry.summary_text,
                       "changes": changes_text(entry)}

    described = [f"{k}: {v}" for k, v in filters.items() if v]
    return Table(_("Audit log"), cols, rows(), filters=described, total=_count(sess, stmt))
