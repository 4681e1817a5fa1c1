"""Import API for customers and vehicles."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("crm_import_api", __name__, url_prefix="/api/v1/import",
                description="Import customers and vehicles from CSV or Excel, with a dry run.")
