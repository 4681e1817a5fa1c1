"""The JSON API under ``/api/v1/sales``: thin routes over the services.

A route authenticates, checks the permission, parses the input, runs the service inside
:func:`carebiz.toolkit.saving` (one commit; a refusal becomes the standard error body) and
serialises. Lists are answered from their list definitions (:mod:`.lists`), so the page,
the API and every export list the same rows."""

from __future__ import annotations

from carebiz.api.common import Blueprint

blp = Blueprint("sales_api", __name__, url_prefix="/api/v1/sales",
                description="Sales: prospects, return visits, showroom, test drives, "
                            "quotations, orders, stock and purchasing.")
