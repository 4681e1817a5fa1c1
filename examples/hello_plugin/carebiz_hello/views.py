"""The plugin's page: greetings in the branches the user sees, and a form to write one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import Optional

from carebiz import db
from carebiz.errors import ValidationFailed
from carebiz.models import Branch
from carebiz.security import can, require, visible
from carebiz.services import settings

from .models import MESSAGE_LENGTH, Greeting
from .services import create_greeting, writable_branch_ids

bp = Blueprint("hello", __name__, url_prefix="/hello", template_folder="templates")

PAGE_SIZE = 100


class GreetingForm(FlaskForm):
    """Only the shape of the input; the rules are checked by the service, whose field errors
    are shown next to the fields."""

    message = StringField(_l("Message"),
                          render_kw={"maxlength": MESSAGE_LENGTH, "required": True})
    branch_id = SelectField(_l("Branch"), coerce=int)
    customer_id = IntegerField(_l("Customer number"), validators=[Optional()],
                               description=_l("Leave empty for a greeting to nobody in "
                                              "particular."))


def _form() -> GreetingForm:
    """The form with the branches the user may write in as choices."""
    form = GreetingForm()
    allowed = writable_branch_ids(current_user)
    stmt = select(Branch).where(Branch.active.is_(True)).order_by(Branch.code)
    if allowed is not None:
        stmt = stmt.where(Branch.id.in_(sorted(allowed)))
    form.branch_id.choices = [(b.id, f"{b.code} · {b.name}") for b in db.session().scalars(stmt)]
    if form.branch_id.data is None and current_user.default_branch_id:
        form.branch_id.data = current_user.default_branch_id
    return form


def _page(form: GreetingForm, status: int = 200) -> Any:
    sess = db.session()
    stmt = visible(select(Greeting).order_by(Greeting.id.desc()), Greeting, current_user)
    greetings = sess.scalars(stmt.limit(PAGE_SIZE)).all()
    branches = {b.id: b for b in sess.scalars(select(Branch))}
    signature = settings.get(sess, current_app.extensions["carebiz"].host, "hello.signature")
    return render_template("hello/index.html", greetings=greetings, branches=branches,
                           form=form if can(current_user, "hello.greet") else None,
                           signature=signature), status


@bp.get("/")
@require("hello.view")
def index() -> Any:
    return _page(_form())


@bp.get("/<int:greeting_id>")
@require("hello.view")
def greeting(greeting_id: int) -> Any:
    """One greeting, the page its audit entries link to (``record_pages``). A greeting of a
    branch the user does not see is not found, like one that does not exist."""
    sess = db.session()
    stmt = visible(select(Greeting).where(Greeting.id == greeting_id), Greeting, current_user)
    found = sess.scalar(stmt)
    if found is None:
        abort(404)
    return render_template("hello/greeting.html", greeting=found,
                           branch=sess.get(Branch, found.branch_id))


@bp.post("/")
@require("hello.greet")
def create() -> Any:
    form = _form()
    if not form.validate_on_submit():
        return _page(form, 422)
    sess = db.session()
    try:
        create_greeting(sess, message=form.message.data,
                        author=current_user._get_current_object(),
                        branch_id=form.branch_id.data, customer_id=form.customer_id.data)
    except ValidationFailed as exc:
        sess.rollback()
        for name, message in exc.errors.items():
            getattr(form, name).errors.append(message)
        return _page(form, 422)
    sess.commit()
    flash(_("Greeting saved."), "success")
    return redirect(url_for("hello.index"))
