"""Administration pages (users, roles, branches, API tokens, subsystems, settings, audit)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
