"""The kernel's default plugin: its tables, pages, API, permissions, admin menu, settings,
job housekeeping, the audit and branch row filters, and the admin lists' exports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_

from carebiz import hookimpl
from carebiz.contributions import (
    AuditLabels,
    ExportTable,
    MenuItem,
    Permission,
    RecordPage,
    ScheduledJob,
    SettingSpec,
    Task,
)
from carebiz.models import CORE_MODELS, AuditEntry
from carebiz.security.rows import branch_rule
from carebiz.toolkit.permissions import EXPORT_PERMISSION, TOKENS_PERMISSION, manager_permission

#: the built-in roles that export lists and create tokens by default: all but the read-only
#: one, which reads and takes nothing away (existing installs: migration core_0011)
WORKING_ROLES = ("manager", "salesperson", "service_adviser", "technician", "parts_clerk",
                 "dispatcher")


@hookimpl
def models() -> list[type]:
    return list(CORE_MODELS)


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.web import admin, auth, home, jobs, setup

    return [auth.bp, home.bp, admin.bp, jobs.bp, setup.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.api.core import blp

    return [blp]


@hookimpl
def permissions() -> list[Permission]:
    return [
        Permission("admin.users", _l("Manage users"), weight=10),
        Permission("admin.roles", _l("Manage roles and their permissions"), weight=11),
        Permission("admin.branches", _l("Manage branches"), weight=12),
        Permission("admin.tokens", _l("Manage everyone's API tokens"), weight=13),
        Permission("admin.plugins", _l("Switch subsystems on and off"), weight=14),
        Permission("admin.settings", _l("Change business settings"), weight=15),
        manager_permission(),
        Permission("audit.view", _l("Read the audit log"), default_roles=("manager",),
                   weight=20),
        Permission(EXPORT_PERMISSION, _l("Export lists (download them as files)"),
                   _l("Whole customer lists with phones and e-mails leave the system this "
                      "way; seeing a list does not include taking it away."),
                   default_roles=WORKING_ROLES, weight=21),
        Permission(TOKENS_PERMISSION, _l("Create own API tokens"),
                   _l("A token lets a program act as the user through the API."),
                   default_roles=WORKING_ROLES, weight=22),
    ]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    return [
        MenuItem("admin.users", _l("Users"), "admin.users", "admin.users", "admin", weight=10),
        MenuItem("admin.roles", _l("Roles"), "admin.roles", "admin.roles", "admin", weight=11),
        MenuItem("admin.branches", _l("Branches"), "admin.branches", "admin.branches", "admin",
                 weight=12),
        MenuItem("admin.tokens", _l("API tokens"), "admin.tokens", None, "admin", weight=13),
        MenuItem("admin.plugins", _l("Subsystems"), "admin.plugins", "admin.plugins", "admin",
                 weight=14),
        MenuItem("admin.settings", _l("Settings"), "admin.settings", "admin.settings", "admin",
                 weight=15),
        MenuItem("admin.audit", _l("Audit log"), "admin.audit", "audit.view", "admin",
                 weight=16),
    ]


@hookimpl
def row_filters(model: type, user: Any) -> list[Any] | None:
    """Audit entries of the reader's branches (and of none); every other model with a branch
    through the common branch rule."""
    if model is AuditEntry:
        if not user.is_authenticated:
            return [AuditEntry.id < 0]
        if user.all_branches or user.is_superuser:
            return None
        ids = sorted(user.branch_ids)
        return [or_(AuditEntry.branch_id.is_(None), AuditEntry.branch_id.in_(ids))]
    return branch_rule(model, user)


@hookimpl
def settings() -> list[SettingSpec]:
    return [
        SettingSpec("core.company_name", "CareBusiness", _l("Company name"), weight=1),
        SettingSpec("core.jobs_keep_days", 30, _l("Days to keep finished background jobs"),
                    type="int", weight=50),
    ]


@hookimpl
def tasks() -> list[Task]:
    from carebiz.jobs.cleanup import purge_jobs

    return [Task("core.purge_jobs", _l("Delete old background jobs"), purge_jobs,
                 permission="admin.settings")]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("core.purge_jobs.daily", "core.purge_jobs", dt.timedelta(days=1))]


@hookimpl
def export_tables() -> list[ExportTable]:
    from carebiz.web.admin_lists import AUDIT, BRANCHES, USERS

    return [ExportTable.of_list(USERS), ExportTable.of_list(BRANCHES),
            ExportTable.of_list(AUDIT)]


@hookimpl
def record_pages() -> list[RecordPage]:
    return [
        RecordPage("user", "admin.user_edit", "user_id", "admin.users", label=_l("User")),
        RecordPage("role", "admin.role_edit", "role_id", "admin.roles", label=_l("Role")),
        RecordPage("branch", "admin.branch_edit", "branch_id", "admin.branches",
                   label=_l("Branch")),
    ]


@hookimpl
def audit_labels() -> list[AuditLabels]:
    """How the core's records and events read in history panels and the audit log."""
    return [
        AuditLabels("user", fields={
            "username": _l("User name"), "display_name": _l("Display name"),
            "email": _l("Email"), "phone": _l("Mobile phone"), "active": _l("Active"),
            "all_branches": _l("Sees every branch"),
            "locale": _l("Language"), "roles": _l("Roles"), "branches": _l("Branches")},
            # stored as role names and branch codes; read as the role's label in the
            # reader's language and the branch's name
            references={"roles": "role.name", "branches": "branch.code"}),
        AuditLabels("branch", fields={
            "code": _l("Code"), "name": _l("Name"), "address": _l("Address"),
            "phone": _l("Phone"), "active": _l("Active")}),
        AuditLabels("role", fields={"label": _l("Label"), "permissions": _l("Permissions")}),
        AuditLabels("api_token", fields={"name": _l("Name"), "expires": _l("Valid until")}),
        AuditLabels("core", weight=0, events={
            "user.created": _l("User created"),
            "user.updated": _l("User changed"),
            "role.updated": _l("Role changed"),
            "branch.saved": _l("Branch saved"),
            "token.created": _l("API token issued"),
            "token.revoked": _l("API token revoked"),
            "login.throttled": _l("Logins refused for a while"),
            "plugin.switched": _l("Subsystems switched on or off"),
            "setting.changed": _l("Setting changed"),
            "job.finished": _l("Background job ended"),
        }),
    ]
