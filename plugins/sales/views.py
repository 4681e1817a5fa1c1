"""The sales pages under ``/sales``: thin views over the services, forms with Flask-WTF,
lists from their list definitions (:mod:`.lists`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from carebiz.toolkit import require

bp = Blueprint("sales", __name__, url_prefix="/sales", template_folder="templates")


@bp.get("/")
@require("sales.view")
def dashboard() -> Any:
    """Today's work: the day's figures and the return visits due."""
    return render_template("sales/dashboard.html")
