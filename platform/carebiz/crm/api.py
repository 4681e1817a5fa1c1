"""CRM JSON API."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("crm_api", __name__, url_prefix="/api/v1",
                description="Customers, vehicles, timeline, lookup and the 360° overview.")
