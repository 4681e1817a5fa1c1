"""How the sales records read in the history panels and the audit log (the core's
``audit_labels`` hook, guide §9 "Labels in the history and the audit log").

The audit entries keep the codes the services store (``status: in_stock``,
``payment_status: partly_paid``) — the API answers those; these declarations give every
field its label and every status its words in the reader's language, from the same
mappings the pages use (:mod:`.labels`), so the history never shows a code a person would
have to decode. The stored summaries hold no codes (each status change has its own
sentence), so nothing here needs to translate a summary's arguments.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz.contributions import AuditLabels

from .labels import (
    DELIVERY_STATUS,
    DRIVE_STATUS,
    ORDER_STATUS,
    PAYMENT_STATUS,
    PDI_STATUS,
    PROSPECT_STATUS,
    PURCHASE_STATUS,
    QUOTATION_STATUS,
    REGISTRATION_STATUS,
    STOCK_STATUS,
    SUPPLIER_QUOTE_STATUS,
    VEHICLE_STATUS,
    VISIT_STATUS,
)
from .services.choices import INDUSTRIES, LOST_REASONS, POINTS_OF_INTEREST, SOURCES
from .services.showroom import OUTCOMES as SHOWROOM_OUTCOMES
from .services.visits import OUTCOMES as VISIT_OUTCOMES

_COMMON: dict[str, Any] = {
    "status": _l("Status"), "customer_id": _l("Customer"), "branch_id": _l("Branch"),
    "total": _l("Total"), "currency": _l("Currency"), "stock_id": _l("Stock vehicle"),
}
_REFS = {"customer_id": "party", "branch_id": "branch", "supplier_id": "party",
         "stock_id": "sales_stock"}


def declarations() -> list[AuditLabels]:
    """One declaration per kind of sales record that writes audit entries."""
    prospect_status = {**PROSPECT_STATUS, **VISIT_STATUS}  # visits are audited on the prospect
    return [
        AuditLabels("sales_prospect", fields={
            **_COMMON, "salesperson_id": _l("Salesperson"), "source": _l("Source"),
            "industry": _l("Industry"), "budget": _l("Budget"),
            "intended_purchase_on": _l("Intends to buy by"),
            "points_of_interest": _l("Points of interest"),
            "models_of_interest": _l("Models of interest"), "lost_reason": _l("Lost reason"),
            "notes": _l("Notes"), "outcome": _l("Outcome")},
            values={"status": prospect_status, "source": SOURCES,
                    "points_of_interest": POINTS_OF_INTEREST, "lost_reason": LOST_REASONS,
                    "industry": INDUSTRIES,
                    "outcome": {k: v[0] for k, v in VISIT_OUTCOMES.items()}},
            references={**_REFS, "salesperson_id": "user"}),
        AuditLabels("sales_showroom_visit", fields={**_COMMON, "outcome": _l("Outcome")},
                    values={"outcome": SHOWROOM_OUTCOMES}, references=_REFS),
        AuditLabels("sales_test_drive", fields={
            **_COMMON, "odometer_out": _l("Odometer out"), "odometer_in": _l("Odometer in")},
            values={"status": DRIVE_STATUS}, references=_REFS),
        AuditLabels("sales_stock", fields={**_COMMON, "location": _l("Location")},
                    values={"status": STOCK_STATUS}, references=_REFS),
        AuditLabels("sales_quotation", fields={
            **_COMMON, "revision": _l("Revision"), "valid_until": _l("Valid until")},
            values={"status": QUOTATION_STATUS}, references=_REFS),
        AuditLabels("sales_order", fields={
            **_COMMON, "payment_status": _l("Payment"), "vehicle_status": _l("Vehicle"),
            "pdi_status": _l("Pre-delivery inspection"),
            "registration_status": _l("Registration"), "delivery_status": _l("Delivery"),
            "paid": _l("Paid")},
            values={"status": ORDER_STATUS, "payment_status": PAYMENT_STATUS,
                    "vehicle_status": VEHICLE_STATUS, "pdi_status": PDI_STATUS,
                    "registration_status": REGISTRATION_STATUS,
                    "delivery_status": DELIVERY_STATUS},
            references=_REFS),
        AuditLabels("sales_purchase_order", fields={**_COMMON, "supplier_id": _l("Supplier")},
                    values={"status": PURCHASE_STATUS}, references=_REFS),
        AuditLabels("sales_supplier_quote", fields={**_COMMON, "supplier_id": _l("Supplier")},
                    values={"status": SUPPLIER_QUOTE_STATUS}, references=_REFS),
    ]
