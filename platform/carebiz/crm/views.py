"""CRM pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("crm", __name__, template_folder="templates")
