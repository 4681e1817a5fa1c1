"""The core's API: who am I, subsystems, jobs, API tokens, branches, users, audit."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import abort
from sqlalchemy import select

from carebiz import db
from carebiz.api import schemas as s
from carebiz.api.common import ApiBlueprint, ListArgs, page_of
from carebiz.jobs import submit, task_registry, visible_job
from carebiz.models import ApiToken, AuditEntry, Branch, User
from carebiz.models.audit import for_reader
from carebiz.security import api_login_required, can, require, visible
from carebiz.services import branches as branch_service
from carebiz.services import subsystems, tokens, users
from carebiz.toolkit import saving

blp = ApiBlueprint("core_api", __name__, url_prefix="/api/v1",
                   description="Platform core: identity, subsystems, jobs, tokens, organisation.")


def _host() -> Any:
    return current_app.extensions["carebiz"].host


@blp.route("/me")
class Me(MethodView):
    @api_login_required
    @blp.response(200, s.UserSchema)
    def get(self) -> Any:
        """The authenticated user, with roles, branches and effective permissions."""
        return current_user


def plugin_rows() -> list[dict[str, Any]]:
    host = _host()
    active = host.active_names()
    return [{"name": n, "version": m.version, "label": str(m.label),
             "description": str(m.description), "requires": list(m.requires),
             "uses": list(m.uses), "auto_enable": m.auto_enable, "enabled": n in active}
            for n, m in host.manifests.items() if n != "core"]


@blp.route("/plugins")
class Plugins(MethodView):
    @api_login_required
    @blp.response(200, s.PluginSchema(many=True))
    def get(self) -> Any:
        """Installed subsystems and whether each is switched on."""
        return plugin_rows()


@blp.route("/plugins/<name>")
class PluginSwitch(MethodView):
    @require("admin.plugins")
    @blp.arguments(s.PluginSwitchSchema)
    @blp.response(200, s.PluginSwitchResultSchema)
    def patch(self, data: dict[str, Any], name: str) -> Any:
        """Switch a subsystem on (with what it requires) or off (with what requires it)."""
        with saving():
            changed = subsystems.switch(db.session(), _host(), name, data["enabled"],
                                        current_user.username)
        return {"changed": changed, "enabled": sorted(_host().active_names() - {"core"})}


@blp.route("/jobs")
class Jobs(MethodView):
    @api_login_required
    @blp.arguments(s.JobSchema)
    @blp.response(202, s.JobSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Start a background job; poll ``GET /api/v1/jobs/<id>`` for its progress."""
        task = task_registry(_host()).get(data["task"])
        if task is None:
            abort(404, message=_("No background task named '%(name)s'.", name=data["task"]))
        if task.permission and not can(current_user, task.permission):
            abort(403, message=_("You may not run this task."))
        return submit(db.session(), task.name, data["params"], user_id=current_user.id)


@blp.route("/jobs/<job_id>")
class JobItem(MethodView):
    @api_login_required
    @blp.response(200, s.JobSchema)
    def get(self, job_id: str) -> Any:
        """A job's status, progress and result (your own jobs; administrators: all)."""
        job = visible_job(db.session(), job_id, current_user)
        if job is None:
            abort(404, message=_("No such job."))
        return job


@blp.route("/tokens")
class Tokens(MethodView):
    @api_login_required
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, s.TokenPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Your API tokens (all tokens with ``admin.tokens``)."""
        stmt = select(ApiToken).order_by(ApiToken.id.desc())
        if not can(current_user, "admin.tokens"):
            stmt = stmt.where(ApiToken.user_id == current_user.id)
        return page_of(db.session(), stmt, args["page"], args["per_page"])

    @api_login_required
    @blp.arguments(s.TokenSchema)
    @blp.response(201, s.NewTokenSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Issue a token for yourself. The secret is in this answer only."""
        with saving():
            token, secret = tokens.create_token(db.session(), current_user, data["name"],
                                                data["expires_at"])
        token.token = secret
        return token


@blp.route("/tokens/<int:token_id>")
class TokenItem(MethodView):
    @api_login_required
    @blp.response(200, s.TokenSchema)
    def delete(self, token_id: int) -> Any:
        """Revoke a token (yours, or any with ``admin.tokens``)."""
        sess = db.session()
        token = sess.get(ApiToken, token_id)
        if token is None or (token.user_id != current_user.id
                             and not can(current_user, "admin.tokens")):
            abort(404, message=_("No such token."))
        with saving():
            tokens.revoke_token(sess, token)
        return token


@blp.route("/branches")
class Branches(MethodView):
    @api_login_required
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, s.BranchPage)
    def get(self, args: dict[str, Any]) -> Any:
        """Branches you are granted (all with ``admin.branches`` or company-wide access)."""
        stmt = select(Branch).order_by(Branch.code)
        if not (current_user.all_branches or current_user.is_superuser
                or can(current_user, "admin.branches")):
            stmt = stmt.where(Branch.id.in_(sorted(current_user.branch_ids)))
        return page_of(db.session(), stmt, args["page"], args["per_page"])

    @require("admin.branches")
    @blp.arguments(s.BranchSchema)
    @blp.response(201, s.BranchSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a branch."""
        with saving():
            branch = branch_service.save_branch(db.session(), None, **data)
        return branch


@blp.route("/users")
class Users(MethodView):
    @require("admin.users")
    @blp.arguments(ListArgs, location="query")
    @blp.response(200, s.UserPage)
    def get(self, args: dict[str, Any]) -> Any:
        """User accounts."""
        return page_of(db.session(), select(User).order_by(User.username),
                       args["page"], args["per_page"])

    @require("admin.users")
    @blp.arguments(s.UserCreateSchema)
    @blp.response(201, s.UserSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a user account."""
        with saving():
            user = users.create_user(db.session(), **data)
        return user


@blp.route("/audit")
class Audit(MethodView):
    @require("audit.view")
    @blp.arguments(s.AuditArgs, location="query")
    @blp.response(200, s.AuditPage)
    def get(self, args: dict[str, Any]) -> Any:
        """The audit log, newest first, filtered by record or actor; limited to the
        branches you see."""
        stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
        for key in ("entity_type", "entity_id"):
            if args.get(key):
                stmt = stmt.where(getattr(AuditEntry, key) == args[key])
        if args.get("actor"):
            stmt = stmt.where(AuditEntry.actor_name == args["actor"])
        stmt = visible(stmt, AuditEntry, current_user)
        page = page_of(db.session(), stmt, args["page"], args["per_page"])
        page["items"] = for_reader(db.session(), page["items"], current_user)
        return page
