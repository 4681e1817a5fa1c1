"""The first-run page: on a fresh install (no user at all) every page leads to ``/setup``,
where a person names the business and its first branch and creates the administrator account.

Once any user exists the page answers 404 and nothing redirects any more. Whether users
exist is asked once per process until the answer is yes (it never turns back to no: the last
administrator cannot be removed), so set-up costs the running app nothing afterwards. The
rules — and the guard against two people submitting at once — are in
:mod:`carebiz.services.setup`, shared with ``carebiz setup``."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user
from flask_wtf import FlaskForm
from sqlalchemy.exc import DBAPIError
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from carebiz import db
from carebiz.i18n import normalise
from carebiz.services import setup as setup_service
from carebiz.services.users import MIN_PASSWORD_LENGTH
from carebiz.toolkit import form_status, saving
from carebiz.web.admin_forms import clean, options

bp = Blueprint("setup", __name__, template_folder="templates")

#: app.extensions key: True once users are known to exist
DONE = "carebiz.setup_done"
#: endpoints that work before set-up (assets, the health check)
OPEN_ENDPOINTS = {"static", "vendor", "healthz", "favicon"}


class SetupForm(FlaskForm):
    business_name = StringField(_l("Business name"), filters=[clean],
                                validators=[DataRequired(), Length(max=200)],
                                description=_l("Shown on documents and statements."))
    branch_name = StringField(_l("First branch"), filters=[clean],
                              validators=[DataRequired(), Length(max=200)],
                              description=_l("The store or workshop, e.g. Downtown. Add more "
                                             "branches later under Administration."))
    branch_code = StringField(_l("Branch code"), filters=[clean],
                              default=setup_service.DEFAULT_BRANCH_CODE,
                              validators=[DataRequired(), Length(max=32)],
                              description=_l("Short, used in lists and imports."))
    currency = SelectField(_l("Currency"), default=setup_service.DEFAULT_CURRENCY)
    username = StringField(_l("Administrator's user name"), filters=[clean],
                           validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username"})
    display_name = StringField(_l("Full name"), filters=[clean],
                               validators=[Optional(), Length(max=200)])
    email = EmailField(_l("E-mail"), filters=[clean], validators=[Optional(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             description=_l("At least %(n)d characters.",
                                            n=MIN_PASSWORD_LENGTH),
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from carebiz.currency.codes import currency_list

        self.currency.choices = options(
            [(c["code"], f"{c['code']} · {c['name']}") for c in currency_list(get_locale())])


def set_up_already() -> bool | None:
    """True when users exist, None when the database cannot say (no tables yet)."""
    if current_app.extensions.get(DONE):
        return True
    try:
        done = setup_service.is_set_up(db.session())
    except DBAPIError:
        db.session().rollback()
        return None
    if done:
        current_app.extensions[DONE] = True
    return done


@bp.before_app_request
def first_run_redirect() -> Any:
    """Every page of a fresh install leads to the set-up page (the API and assets do not)."""
    if current_app.extensions.get(DONE) or request.method not in ("GET", "HEAD"):
        return None
    if (request.blueprint == bp.name or request.endpoint in OPEN_ENDPOINTS
            or request.endpoint is None or request.path.startswith("/api/")):
        return None
    if set_up_already() is False:
        return redirect(url_for("setup.index"))
    return None


@bp.route("/setup", methods=["GET", "POST"])
def index() -> Any:
    done = set_up_already()
    if done is None:
        return render_template("setup/no_database.html"), 503
    if done:
        abort(404)
    form = SetupForm()
    if form.validate_on_submit():
        sess = db.session()
        aliases = {"branches": "branch_code", "locale": "username"}
        with saving(form, aliases) as outcome:
            user = setup_service.set_up(
                sess, current_app.extensions["carebiz"].host,
                business_name=form.business_name.data, branch_code=form.branch_code.data,
                branch_name=form.branch_name.data, username=form.username.data,
                password=form.password.data, currency=form.currency.data,
                display_name=form.display_name.data, email=form.email.data,
                locale=normalise(session.get("locale")))  # a language chosen on this page
        if outcome.ok:
            current_app.extensions[DONE] = True
            login_user(user)
            flash(_("Welcome! %(business)s is set up; you are logged in as %(name)s.",
                    business=form.business_name.data, name=user.username), "success")
            return redirect(url_for("home.index"))
        if isinstance(outcome.error, setup_service.AlreadySetUp):  # flashed by saving()
            current_app.extensions[DONE] = True
            return redirect(url_for("auth.login"))
    return render_template("setup/setup.html", form=form), form_status(form)
