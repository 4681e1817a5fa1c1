"""Administration pages (users, roles, branches, API tokens, subsystems, settings, audit).

Views stay thin: they read the form, call the services (which hold the rules), commit once,
and on a :class:`~carebiz.errors.ServiceError` roll back and show the form again with the
messages next to the fields and everything the user typed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from flask_babel import to_utc
from flask_login import current_user, login_required
from sqlalchemy import Select, bindparam, func, or_, select

from carebiz import db, lists
from carebiz.concurrency import parse_version
from carebiz.errors import ServiceError
from carebiz.lists import Page, list_url, paginate
from carebiz.models import ApiToken, AuditEntry, Branch, Role, User, user_roles
from carebiz.models.audit import for_reader
from carebiz.plugins.manifest import CORE
from carebiz.security import can, require, sessions, visible
from carebiz.security.permissions import TOKENS_PERMISSION, registered_permissions
from carebiz.security.rows import prepared
from carebiz.services import audit_labels, subsystems
from carebiz.services import branches as branch_service
from carebiz.services import roles as role_service
from carebiz.services import settings as settings_service
from carebiz.services import tokens as token_service
from carebiz.services import users as user_service
from carebiz.toolkit import apply_errors, form_status, saving
from carebiz.web.admin_forms import (
    BranchForm,
    RoleForm,
    RolePermissionsForm,
    TokenForm,
    UserEditForm,
    UserForm,
    options,
    setting_field_name,
    setting_value,
    settings_form,
)
from carebiz.web.admin_lists import AUDIT, BRANCHES, USERS
from carebiz.web.links import id_url, record_url

bp = Blueprint("admin", __name__, url_prefix="/admin")


# -- shared helpers ------------------------------------------------------------------------


def _host() -> Any:
    return current_app.extensions["carebiz"].host


def _page_of(listed: lists.Listing) -> Page:
    """The page of a declared list that ``?page=`` names (clamped to the existing pages)."""
    return lists.page(listed, db.session(), request.args.get("page", 1, type=int) or 1,
                      clamp=True)


# -- audit helpers usable by every record page ----------------------------------------------


def record_audit(entity_type: str, entity_id: Any, limit: int = 20) -> list[AuditEntry]:
    """The newest audit entries of one record that the current user may see, for the
    history panel at the bottom of record pages (core and plugins alike). The statement is
    built once per process, limit and shape of the reader's row filters (``prepared``):
    every record page runs it, and building it cost more than running it."""
    stmt = prepared(("audit.record", limit), _record_audit(limit), AuditEntry, current_user)
    sess = db.session()
    found = sess.scalars(stmt, {"entity_type": entity_type, "entity_id": str(entity_id)})
    return audit_labels.label_entries(sess, for_reader(sess, found, current_user),
                                      current_user)


def _record_audit(limit: int) -> Callable[[], Select[Any]]:
    def build() -> Select[Any]:
        return (select(AuditEntry)
                .where(AuditEntry.entity_type == bindparam("entity_type"),
                       AuditEntry.entity_id == bindparam("entity_id"))
                .order_by(AuditEntry.id.desc()).limit(limit))
    return build


def audit_changes(entry: AuditEntry) -> list[tuple[str, Any, Any, bool]]:
    """``(label, before, after, had_before)`` for the fields an entry records, as people
    read them (field labels, choice labels, the names of referenced records the reader may
    see: :mod:`carebiz.services.audit_labels`), so both a creation (only after) and an edit
    (before → after) read compactly."""
    return [(c.label, c.old, c.new, c.had_before) for c in audit_labels.changes(entry)]


def audit_event(entry: AuditEntry) -> str:
    """The entry's event as a sentence in the reader's language ("Customer registered")."""
    return audit_labels.event_text(entry)


def audit_value(value: Any) -> str:
    """Short display of a stored audit value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def audit_log_url(entity_type: str, entity_id: Any) -> str | None:
    """Link to a record's full audit log, for users who may read the log."""
    if not can(current_user, "audit.view"):
        return None
    if str(entity_id).isdigit():  # built once per process (every record page shows it)
        return id_url("admin.audit", "entity_id", entity_type=entity_type)(entity_id)
    return url_for("admin.audit", entity_type=entity_type, entity_id=str(entity_id))


#: audit entity types of the core that have a page here: (endpoint, argument, permission)
def entity_url(entity_type: str, entity_id: str) -> str | None:
    """Link from an audit entry to its record, when the reader may open that page."""
    return record_url(entity_type, entity_id)


@bp.record_once
def _register_template_helpers(state: BlueprintSetupState) -> None:
    """Globals, not a context processor, so macros imported without context (the audit
    trail in plugin templates) can call them too."""
    state.app.jinja_env.globals.update(record_audit=record_audit, audit_changes=audit_changes,
                                       audit_event=audit_event,
                                       audit_log_url=audit_log_url, list_url=list_url)
    state.app.jinja_env.filters["audit_value"] = audit_value


# -- users ----------------------------------------------------------------------------------


def _role_choices(sess: Any) -> list[tuple[str, str]]:
    return [(r.name, role_service.role_label(r))
            for r in sess.scalars(select(Role).order_by(Role.builtin.desc(), Role.name))]


def _branch_choices(sess: Any) -> list[tuple[str, str]]:
    return [(b.code, f"{b.code} · {b.name}" + ("" if b.active else " " + _("(inactive)")))
            for b in sess.scalars(select(Branch).order_by(Branch.code))]


def _fill_user_choices(form: UserForm, sess: Any) -> None:
    form.roles.choices = options(_role_choices(sess))
    form.branches.choices = options(_branch_choices(sess))


@bp.route("/users")
@require("admin.users")
def users() -> Any:
    sess = db.session()
    listed = lists.prepare(USERS, request.args, sess, current_user)
    return render_template("admin/users.html", page=_page_of(listed), q=listed.q,
                           role=listed.values.get("role", ""),
                           status=listed.values.get("status", ""), sort=listed.sort,
                           roles=_role_choices(sess), role_label=role_service.role_label)


@bp.route("/users/new", methods=["GET", "POST"])
@require("admin.users")
def user_new() -> Any:
    sess = db.session()
    form = UserForm()
    _fill_user_choices(form, sess)
    if form.validate_on_submit():
        with saving(form) as saved:
            user = user_service.create_user(
                sess, form.username.data, form.password.data, roles=form.roles.data,
                branches=form.branches.data, display_name=form.display_name.data,
                email=form.email.data, all_branches=form.all_branches.data,
                locale=form.locale.data or None, phone=form.phone.data or "")
        if saved.ok:
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for(".user_edit", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=None), form_status(form)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require("admin.users")
def user_edit(user_id: int) -> Any:
    sess = db.session()
    user = sess.get(User, user_id)
    if user is None:
        abort(404)
    form = UserEditForm(data={
        "display_name": user.display_name, "email": user.email, "phone": user.phone,
        "active": user.active,
        "all_branches": user.all_branches, "locale": user.locale or "",
        "roles": [r.name for r in user.roles], "branches": [b.code for b in user.branches]})
    _fill_user_choices(form, sess)
    if form.validate_on_submit():
        changes: dict[str, Any] = {
            "display_name": form.display_name.data, "email": form.email.data,
            "phone": form.phone.data or "", "active": form.active.data,
            "all_branches": form.all_branches.data,
            "locale": form.locale.data or None, "roles": form.roles.data,
            "branches": form.branches.data}
        if form.password.data:
            changes["password"] = form.password.data
        with saving(form) as saved:
            user_service.update_user(sess, user, **changes)
        if saved.ok:
            if "password" in changes:  # the user's sessions ended; not the editor's own one
                sessions.renew_current(user)
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for(".user_edit", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=user,
                           role_label=role_service.role_label,
                           audit_entries=record_audit("user", user.id)), form_status(form)


# -- roles ----------------------------------------------------------------------------------


def permission_groups() -> list[tuple[str, str, list[Any]]]:
    """Registered permissions grouped by the part before the first dot; a group named like a
    plugin is headed by the plugin's label."""
    manifests = _host().manifests
    groups: dict[str, list[Any]] = {}
    for perm in registered_permissions().values():
        groups.setdefault(perm.name.split(".", 1)[0], []).append(perm)
    return [(key, str(manifests[key].label) if key in manifests else key, perms)
            for key, perms in groups.items()]


@bp.route("/roles")
@require("admin.roles")
def roles() -> Any:
    sess = db.session()
    counts = _role_user_counts(sess)
    stmt = select(Role).order_by(Role.builtin.desc(), Role.name)
    return render_template("admin/roles.html", page=paginate(stmt), counts=counts,
                           role_label=role_service.role_label,
                           known=set(registered_permissions()))


def _role_user_counts(sess: Any) -> dict[int, int]:
    rows = sess.execute(select(user_roles.c.role_id, func.count())
                        .group_by(user_roles.c.role_id)).all()
    return {role_id: count for role_id, count in rows}


@bp.route("/roles/new", methods=["GET", "POST"])
@require("admin.roles")
def role_new() -> Any:
    sess = db.session()
    form = RoleForm()
    if form.validate_on_submit():
        with saving(form) as saved:
            role = role_service.create_role(sess, form.name.data, form.label.data,
                                            form.permissions.data or [],
                                            registered_permissions())
        if saved.ok:
            flash(_("Role %(name)s created.", name=role_service.role_label(role)), "success")
            return redirect(url_for(".role_edit", role_id=role.id))
    return render_template("admin/role_form.html", form=form, role=None,
                           groups=permission_groups(), checked=set(form.permissions.data or []),
                           kept=[]), form_status(form)


@bp.route("/roles/<int:role_id>", methods=["GET", "POST"])
@require("admin.roles")
def role_edit(role_id: int) -> Any:
    sess = db.session()
    role = sess.get(Role, role_id)
    if role is None:
        abort(404)
    known = set(registered_permissions())
    # grants of switched-off plugins are not on the page; the service keeps them
    kept = sorted(role.permission_names - known)
    form = RolePermissionsForm(data={"permissions": sorted(role.permission_names & known),
                                     "label": role.label})
    if role.builtin:
        del form.label  # built-in roles carry translated labels from the code
    if request.method == "POST" and role.superuser:
        flash(_("This role holds every permission and cannot be edited."), "warning")
        return redirect(url_for(".role_edit", role_id=role.id))
    if form.validate_on_submit():
        with saving(form) as saved:
            if not role.builtin:
                role_service.rename_role(sess, role, form.label.data)
            role_service.set_permissions(sess, role, form.permissions.data or [], known)
        if saved.ok:
            flash(_("Permissions of %(name)s saved.", name=role_service.role_label(role)),
                  "success")
            return redirect(url_for(".role_edit", role_id=role.id))
    members = _role_user_counts(sess).get(role.id, 0)
    return render_template("admin/role_form.html", form=form, role=role,
                           role_label=role_service.role_label, groups=permission_groups(),
                           checked=set(form.permissions.data or []), kept=kept,
                           members=members,
                           audit_entries=record_audit("role", role.id)), form_status(form)


# -- branches -------------------------------------------------------------------------------


@bp.route("/branches")
@require("admin.branches")
def branches() -> Any:
    listed = lists.prepare(BRANCHES, request.args, db.session(), current_user)
    return render_template("admin/branches.html", page=_page_of(listed), q=listed.q,
                           status=listed.values.get("status", ""), sort=listed.sort)


def _branch_values(form: BranchForm) -> dict[str, Any]:
    return {"code": form.code.data, "name": form.name.data,
            "address": form.address.data, "phone": form.phone.data,
            "active": form.active.data}


@bp.route("/branches/new", methods=["GET", "POST"])
@require("admin.branches")
def branch_new() -> Any:
    return _branch_form(None)


@bp.route("/branches/<int:branch_id>", methods=["GET", "POST"])
@require("admin.branches")
def branch_edit(branch_id: int) -> Any:
    branch = db.session().get(Branch, branch_id)
    if branch is None:
        abort(404)
    return _branch_form(branch)


def _branch_form(branch: Branch | None) -> Any:
    """Create and edit share one form and one service call."""
    sess = db.session()
    form = BranchForm(obj=branch)
    if form.validate_on_submit():
        with saving(form) as outcome:
            saved = branch_service.save_branch(
                sess, branch, expected_version=parse_version(form.version.data),
                **_branch_values(form))
        if outcome.ok:
            flash(_("Branch %(code)s saved.", code=saved.code), "success")
            return redirect(url_for(".branch_edit", branch_id=saved.id))
    entries = record_audit("branch", branch.id) if branch is not None else []
    return render_template("admin/branch_form.html", form=form, branch=branch,
                           audit_entries=entries), form_status(form)


# -- API tokens -----------------------------------------------------------------------------


def _expiry(day: dt.date | None) -> dt.datetime | None:
    """A token valid "until" a day works through that whole day in the business's timezone."""
    if day is None:
        return None
    local_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return to_utc(local_midnight).replace(tzinfo=dt.UTC)


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
def tokens() -> Any:
    """Everyone manages their own tokens; ``admin.tokens`` sees and revokes all of them."""
    sess = db.session()
    form = TokenForm()
    may_create = can(current_user, TOKENS_PERMISSION)
    if request.method == "POST" and not may_create:
        abort(403)
    if form.validate_on_submit():
        with saving(form) as saved:
            token, secret = token_service.create_token(sess, current_user, form.name.data,
                                                       _expiry(form.expires.data))
        if saved.ok:
            # rendered straight away (no redirect, no flash): the secret never lands in the
            # session cookie and is never shown again
            resp = make_response(render_template("admin/token_created.html", token=token,
                                                 secret=secret))
            resp.headers["Cache-Control"] = "no-store"
            return resp
    see_all = can(current_user, "admin.tokens")
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    owner = request.args.get("user", "").strip() if see_all else ""
    if not see_all:
        stmt = stmt.where(ApiToken.user_id == current_user.id)
    elif owner:
        stmt = stmt.where(ApiToken.user.has(func.lower(User.username) == owner.lower()))
    state = request.args.get("state", "")
    if state == "revoked":
        stmt = stmt.where(ApiToken.revoked_at.is_not(None))
    elif state == "usable":
        stmt = stmt.where(ApiToken.revoked_at.is_(None),
                          or_(ApiToken.expires_at.is_(None),
                              ApiToken.expires_at > db.utcnow()))
    return render_template("admin/tokens.html", form=form, page=paginate(stmt),
                           see_all=see_all, owner=owner, state=state, may_create=may_create,
                           now=db.utcnow()), form_status(form)


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def token_revoke(token_id: int) -> Any:
    sess = db.session()
    token = sess.get(ApiToken, token_id)
    if token is None or (token.user_id != current_user.id
                         and not can(current_user, "admin.tokens")):
        abort(404)
    with saving() as saved:
        token_service.revoke_token(sess, token)
    if saved.ok:
        flash(_("Token %(prefix)s… revoked: it no longer works.", prefix=token.prefix),
              "success")
    return redirect(url_for(".tokens"))


# -- subsystems -----------------------------------------------------------------------------


def _labels(names: Any) -> list[str]:
    manifests = _host().manifests
    return [str(manifests[n].label) if n in manifests else n for n in sorted(names)]


@bp.route("/plugins")
@require("admin.plugins")
def plugins() -> Any:
    host = _host()
    active = host.active_names()
    rows = []
    for name, manifest in host.manifests.items():
        if name == CORE:
            continue
        rows.append({
            "name": name, "manifest": manifest, "loaded": True, "enabled": name in active,
            "goes_off": _labels((host.closure_to_disable(name) - {name}) & active),
            "comes_on": _labels(host.closure_to_enable(name) - {name} - active),
        })
    for name, manifest in sorted(host.available.items()):
        if name not in host.manifests:
            rows.append({"name": name, "manifest": manifest, "loaded": False,
                         "enabled": False, "goes_off": [], "comes_on": []})
    return render_template("admin/plugins.html", rows=rows, active=active,
                           manifests=host.manifests, failed=sorted(host.failed.items()))


@bp.route("/plugins/<name>/enable", methods=["POST"])
@require("admin.plugins")
def plugin_enable(name: str) -> Any:
    return _switch(name, True)


@bp.route("/plugins/<name>/disable", methods=["POST"])
@require("admin.plugins")
def plugin_disable(name: str) -> Any:
    return _switch(name, False)


def _switch(name: str, enabled: bool) -> Any:
    sess = db.session()
    with saving() as saved:
        changed = subsystems.switch(sess, _host(), name, enabled, current_user.username)
    if not saved.ok:
        return redirect(url_for(".plugins"))
    if not changed:
        flash(_("Nothing changed."), "info")
    elif enabled:
        flash(_("Switched on: %(names)s.", names=", ".join(_labels(changed))), "success")
    else:
        flash(_("Switched off: %(names)s.", names=", ".join(_labels(changed))), "success")
    return redirect(url_for(".plugins"))


# -- settings -------------------------------------------------------------------------------


@bp.route("/settings", methods=["GET", "POST"])
@require("admin.settings")
def settings() -> Any:
    host = _host()
    sess = db.session()
    specs = list(settings_service.specs(host).values())
    current = {s.key: settings_service.get(sess, host, s.key) for s in specs}
    form = settings_form(specs)(data={setting_field_name(k): v for k, v in current.items()})
    if form.validate_on_submit():
        failed = False
        changed = 0
        for spec in specs:
            field = form[setting_field_name(spec.key)]
            # only changed values are stored, so untouched settings keep following defaults
            if setting_value(spec, field.data) == current[spec.key]:
                continue
            try:
                settings_service.set_value(sess, host, spec.key, field.data,
                                           actor=current_user.username)
                changed += 1
            except ServiceError as exc:
                failed = True
                apply_errors(form, exc, {spec.key: field.name})
        if failed:
            sess.rollback()
        else:
            sess.commit()
            flash(_("Settings saved.") if changed else _("Nothing changed."),
                  "success" if changed else "info")
            return redirect(url_for(".settings"))
    manifests = host.manifests
    groups: dict[str, list[Any]] = {CORE: []}
    for spec in specs:
        groups.setdefault(spec.key.split(".", 1)[0], []).append(form[setting_field_name(spec.key)])
    sections = [(str(manifests[k].label) if k in manifests else k, fields)
                for k, fields in groups.items() if fields]
    return render_template("admin/settings.html", form=form, sections=sections), \
        form_status(form)


# -- audit log ------------------------------------------------------------------------------


@bp.route("/audit")
@require("audit.view")
def audit() -> Any:
    listed = lists.prepare(AUDIT, request.args, db.session(), current_user)
    filters = {f.name: listed.values.get(f.name, "") for f in AUDIT.filters}
    types = list(db.session().scalars(
        visible(select(AuditEntry.entity_type).distinct(), AuditEntry, current_user)
        .order_by(AuditEntry.entity_type)))
    page = _page_of(listed)
    audit_labels.label_entries(db.session(), for_reader(db.session(), page.items, current_user),
                               current_user)
    return render_template("admin/audit.html", page=page, filters=filters,
                           types=types, entity_url=entity_url)
