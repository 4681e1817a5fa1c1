"""Import pages for customers and vehicles."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("crm_import", __name__, url_prefix="/import", template_folder="templates")
