"""The platform core, registered as the first plugin through the same hooks as every other.

Like Datasette's default plugins, the core uses the hooks itself, so the hook machinery is
exercised on every request and third-party plugins see working examples."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_

from carebiz import __version__, hookimpl
from carebiz.contributions import MenuItem, Permission, ScheduledJob, SettingSpec, Task
from carebiz.db import utcnow
from carebiz.models import CORE_MODELS, AuditEntry, Job
from carebiz.plugins.manifest import CORE, PluginManifest
from carebiz.security.rows import branch_rule

manifest = PluginManifest(
    name=CORE,
    version=__version__,
    label=_l("Platform core"),
    description=_l("Users, roles, branches, audit, settings and background jobs."),
    package="carebiz",
)


@hookimpl
def models() -> list[type]:
    return CORE_MODELS


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.web import admin, auth, home, jobs

    return [auth.bp, home.bp, admin.bp, jobs.bp]


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
        Permission("audit.view", _l("Read the audit log"), default_roles=("manager",),
                   weight=20),
        Permission("jobs.view", _l("See everyone's background jobs"), default_roles=("manager",),
                   weight=21),
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


def purge_jobs(ctx: Any, days: int | None = None) -> dict[str, int]:
    """Delete finished and failed jobs older than the setting ``core.jobs_keep_days``."""
    from carebiz.services.settings import get

    host = ctx.app.extensions["carebiz"].host
    keep = int(days if days is not None else get(ctx.session, host, "core.jobs_keep_days"))
    cutoff = utcnow() - dt.timedelta(days=keep)
    result = ctx.session.execute(delete(Job).where(Job.status.in_(("finished", "failed")),
                                                   Job.finished_at < cutoff))
    ctx.progress(100)
    return {"deleted": result.rowcount}


@hookimpl
def tasks() -> list[Task]:
    return [Task("core.purge_jobs", _l("Delete old background jobs"), purge_jobs,
                 permission="admin.settings")]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("core.purge_jobs.daily", "core.purge_jobs", dt.timedelta(days=1))]
