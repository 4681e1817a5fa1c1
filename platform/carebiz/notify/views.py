"""The notifications page (``/notifications``: read, mark read, choose channels) and the
bell's count in the navbar."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from carebiz import db
from carebiz.notify import service
from carebiz.notify.models import Notification
from carebiz.toolkit import paginate, safe_next, saving

bp = Blueprint("notify", __name__, url_prefix="/notifications", template_folder="templates")


def install(app: Flask) -> None:
    """``notification_count()`` for base.html: the logged-in user's unread notices, counted
    once per page (an indexed count), 0 for visitors."""

    @app.context_processor
    def bell() -> dict[str, Any]:
        def notification_count() -> int:
            if not getattr(current_user, "is_authenticated", False):
                return 0
            return service.unread_count(db.session(), current_user.id)

        return {"notification_count": notification_count}


def _channels() -> list[Any]:
    host = current_app.extensions["carebiz"].host
    return sorted(service.channels(host, current_app).values(), key=lambda c: (c.weight, c.name))


@bp.get("/")
@login_required
def index() -> Any:
    unread = request.args.get("unread") == "1"
    page = paginate(service.for_user(current_user.id, unread), per_page=30)
    chosen = service.preferences(db.session(), current_user.id)
    return render_template("notify/index.html", page=page, unread=unread,
                           channels=_channels(), chosen=chosen, form=FlaskForm())


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> Any:
    row = db.session().get(Notification, notification_id)
    if row is None or row.user_id != current_user.id:
        abort(404)  # another user's notice reads as missing
    form = FlaskForm()
    if form.validate_on_submit():
        with saving():
            service.mark_read(db.session(), current_user.id, notification_id)
        if request.form.get("open") and row.link:
            return redirect(safe_next(row.link) or url_for(".index"))
    return redirect(url_for(".index", unread=request.args.get("unread")))


@bp.post("/read-all")
@login_required
def read_all() -> Any:
    form = FlaskForm()
    if form.validate_on_submit():
        with saving():
            service.mark_all_read(db.session(), current_user.id)
    return redirect(url_for(".index"))


@bp.post("/preferences")
@login_required
def save_preferences() -> Any:
    form = FlaskForm()
    if form.validate_on_submit():
        host = current_app.extensions["carebiz"].host
        choices = {c.name: request.form.get(f"channel_{c.name}") == "on" for c in _channels()}
        with saving() as done:
            service.set_preferences(db.session(), host, current_user, choices)
        if done.ok:
            flash(_("Your notification channels were saved."), "success")
    return redirect(url_for(".index"))
