"""Log in, log out, and the language switch (remembered per user)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired

from carebiz import db
from carebiz.i18n import LANGUAGES
from carebiz.services.users import authenticate

bp = Blueprint("auth", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    username = StringField(_l("User name"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    remember = BooleanField(_l("Keep me logged in"))


def safe_next(target: str | None) -> str:
    """Only same-site relative targets, so a crafted link cannot send users elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/"):
            return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        sess = db.session()
        user = authenticate(sess, form.username.data, form.password.data)
        if user is not None:
            sess.commit()
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next")))
        form.password.errors.append(_("Wrong user name or password."))
    return render_template("auth/login.html", form=form), (200 if request.method == "GET"
                                                             or not form.errors else 422)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


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
    return redirect(safe_next(request.form.get("next")))
