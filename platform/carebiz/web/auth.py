"""Log in (throttled), log out (every session of the user ends), change one's own password,
and the language switch (remembered per user)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext, refresh
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired

from carebiz import db
from carebiz.errors import ServiceError
from carebiz.i18n import LANGUAGES
from carebiz.models import User
from carebiz.security import sessions
from carebiz.security.throttle import Lockout, login_throttle, record_lockout
from carebiz.services.users import MIN_PASSWORD_LENGTH, authenticate, change_own_password
from carebiz.toolkit import redirect_next

bp = Blueprint("auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me logged in"))


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(_l("New password"), validators=[InputRequired()],
                             description=_l("At least %(n)d characters; not a common password, "
                                            "a simple sequence or your user name.",
                                            n=MIN_PASSWORD_LENGTH))
    confirm = PasswordField(_l("New password again"), validators=[
        InputRequired(), EqualTo("password", message=_l("The two entries differ."))])


def lockout_message(lock: Lockout) -> str:
    return ngettext("Too many failed attempts; try again in %(num)d minute.",
                    "Too many failed attempts; try again in %(num)d minutes.", lock.minutes)


def _locked(form: FlaskForm, field: Any, lock: Lockout, template: str) -> Any:
    """The form again with the wait, as 429 with Retry-After."""
    field.errors.append(lockout_message(lock))
    return render_template(template, form=form), 429, {"Retry-After": str(lock.retry_after)}


def _failed(form: FlaskForm, field: Any, username: str, template: str) -> Any | None:
    """Count a failed password check; when it starts a lock, audit it and answer 429."""
    lock = login_throttle().failed(username)
    if lock is None:
        return None
    sess = db.session()
    record_lockout(sess, lock, username)
    sess.commit()
    return _locked(form, field, lock, template)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect_next(request.args.get("next"))
    form = LoginForm()
    if form.validate_on_submit():
        guard, username = login_throttle(), form.username.data
        lock = guard.check(username)
        if lock is not None:  # not even the right password gets in while locked
            return _locked(form, form.password, lock, "auth/login.html")
        sess = db.session()
        user = authenticate(sess, username, form.password.data)
        if user is not None:
            guard.succeeded(username)
            sess.commit()
            login_user(user, remember=form.remember.data)
            return redirect_next(request.args.get("next"))
        refused = _failed(form, form.password, username, "auth/login.html")
        if refused is not None:
            return refused
        form.password.errors.append(_("Wrong user name or password."))
    return render_template("auth/login.html", form=form), (200 if request.method == "GET"
                                                             or not form.errors else 422)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    """Ends every session of this user, so a copy of the cookie taken earlier is useless."""
    sess = db.session()
    sessions.end_all(sess.get(User, current_user.id))
    sess.commit()
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    """Change one's own password. The user's other sessions end; this one goes on."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        sess, template = db.session(), "auth/password.html"
        user = sess.get(User, current_user.id)
        lock = login_throttle().check(user.username)
        if lock is not None:  # guessing the current password is throttled like logging in
            return _locked(form, form.current_password, lock, template)
        try:
            change_own_password(sess, user, form.current_password.data, form.password.data)
        except ServiceError as exc:
            sess.rollback()
            if "current_password" in exc.errors:
                refused = _failed(form, form.current_password, user.username, template)
                if refused is not None:
                    return refused
            for name, message in (exc.errors or {"password": exc.message}).items():
                (getattr(form, name, None) or form.password).errors.append(message)
        else:
            sess.commit()
            sessions.renew_current(user)
            flash(_("Your password was changed. Your other sessions were logged out."),
                  "success")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form), (422 if form.is_submitted()
                                                                else 200)


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str) -> Any:
    if code not in LANGUAGES:
        flash(_("Unknown language."), "danger")
    else:
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session().commit()
        refresh()
    return redirect_next(request.form.get("next"))
