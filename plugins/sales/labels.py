"""What the commerce codes read as: the statuses, sub-statuses, line kinds, payment methods
and actions of stock, quotations, orders, purchase orders and supplier quotes, translated
through the ``sales`` catalog.

The database, the API's JSON and the list filters keep the codes (``in_stock``,
``awaiting_payment``) — integrators compare them and they do not change with the language;
everything a person reads (list cells, record pages, printable documents, exports for
people, query results, 409 messages) shows :func:`label` of them instead. A code without a
label (a value added later) reads as itself rather than failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

STOCK_STATUS = {
    "ordered": _l("Ordered"), "in_transit": _l("In transit"), "in_stock": _l("In stock"),
    "reserved": _l("Reserved"), "sold": _l("Sold"), "delivered": _l("Delivered"),
}
STOCK_ACTIONS = {
    "ship": _l("ship"), "receive": _l("receive"), "reserve": _l("reserve"),
    "release": _l("release the reservation"), "sell": _l("sell"), "deliver": _l("deliver"),
}
PROSPECT_STATUS = {
    "pending_review": _l("Waiting for review"), "consulting": _l("Consulting"), "won": _l("Won"),
    "lost": _l("Deal lost"), "rejected": _l("Rejected"),
}
PROSPECT_ACTIONS = {
    "approve": _l("approve"), "reject": _l("reject"), "win": _l("close as won"),
    "lose": _l("close as lost"), "reopen": _l("reopen"),
}
VISIT_STATUS = {"open": _l("Open"), "done": _l("Done"), "cancelled": _l("Cancelled")}
DRIVE_STATUS = {
    "booked": _l("Booked"), "out": _l("Car out"), "returned": _l("Returned"),
    "cancelled": _l("Cancelled"),
}
QUOTATION_STATUS = {
    "open": _l("Open"), "pending_approval": _l("Waiting for approval"),
    "accepted": _l("Accepted"), "declined": _l("Declined"), "expired": _l("Expired"),
}
QUOTATION_ACTIONS = {
    "revise": _l("revise"), "approve": _l("approve"), "accept": _l("accept"),
    "decline": _l("decline"),
}
LINE_KIND = {
    "vehicle": _l("Vehicle"), "option": _l("Option"), "accessory": _l("Accessory"),
    "fee": _l("Fee"), "discount": _l("Discount"), "trade_in": _l("Trade-in"),
}
ORDER_STATUS = {
    "confirmed": _l("Confirmed"), "awaiting_vehicle": _l("Waiting for the car"),
    "awaiting_payment": _l("Waiting for payment"),
    "ready_for_delivery": _l("Ready for delivery"), "delivered": _l("Delivered"),
    "cancelled": _l("Cancelled"),
}
PAYMENT_STATUS = {
    "unpaid": _l("Unpaid"), "partly_paid": _l("Partly paid"), "paid": _l("Paid in full"),
    "overdue": _l("Overdue"),
}
VEHICLE_STATUS = {
    "to_allocate": _l("To allocate"), "in_transit": _l("In transit"),
    "in_stock": _l("In stock"), "ready": _l("Ready for delivery"),
}
PDI_STATUS = {"pending": _l("Not inspected yet"), "passed": _l("Passed"),
              "failed": _l("Failed")}
REGISTRATION_STATUS = {"pending": _l("Not registered yet"), "done": _l("Registered")}
DELIVERY_STATUS = {"pending": _l("To deliver"), "delivered": _l("Delivered"),
                   "cancelled": _l("Cancelled")}
ORDER_ACTIONS = {
    "cancel": _l("cancel"), "pay": _l("pay"), "allocate": _l("allocate a car"),
    "inspect": _l("inspect"), "register": _l("register"), "deliver": _l("deliver"),
    "deliver_with_override": _l("deliver with a manager's override"),
}
PAYMENT_METHOD = {
    "cash": _l("Cash"), "card": _l("Bank card"), "transfer": _l("Bank transfer"),
    "wechat": _l("WeChat Pay"), "alipay": _l("Alipay"), "finance": _l("Car loan"),
    "cheque": _l("Cheque"),
}
PURCHASE_STATUS = {
    "ordered": _l("Ordered"), "partly_received": _l("Partly received"),
    "received": _l("Received"), "cancelled": _l("Cancelled"),
}
PURCHASE_ACTIONS = {"receive": _l("receive"), "cancel": _l("cancel")}
SUPPLIER_QUOTE_STATUS = {
    "requested": _l("Requested"), "quoted": _l("Quoted"), "ordered": _l("Ordered"),
    "declined": _l("Declined"), "expired": _l("Expired"),
}
SUPPLIER_QUOTE_ACTIONS = {"price": _l("enter the price"), "order": _l("order"),
                          "decline": _l("decline")}

#: every kind of code by name, for templates: ``label("payment", code)``
KINDS: dict[str, Mapping[str, Any]] = {
    "prospect": PROSPECT_STATUS, "visit": VISIT_STATUS, "drive": DRIVE_STATUS,
    "stock": STOCK_STATUS, "quotation": QUOTATION_STATUS, "line": LINE_KIND,
    "order": ORDER_STATUS, "payment": PAYMENT_STATUS, "vehicle": VEHICLE_STATUS,
    "pdi": PDI_STATUS, "registration": REGISTRATION_STATUS, "delivery": DELIVERY_STATUS,
    "method": PAYMENT_METHOD, "purchase": PURCHASE_STATUS,
    "supplier_quote": SUPPLIER_QUOTE_STATUS,
}


def label(kind: str, code: Any) -> str:
    """``code`` of ``kind`` in the reader's language; the code itself when it has no label,
    and an empty text for None."""
    if code is None:
        return ""
    return str(KINDS[kind].get(str(code), code))


def choices(kind: str) -> tuple[tuple[str, Any], ...]:
    """``(code, lazy label)`` pairs of ``kind``, for query fields and select boxes."""
    return tuple(KINDS[kind].items())


def machine_labels(*maps: Mapping[str, Any]) -> dict[str, Any]:
    """One mapping of statuses and actions for a :class:`~carebiz.toolkit.transitions.Machine`
    (its 409 messages read these)."""
    merged: dict[str, Any] = {}
    for m in maps:
        merged.update(m)
    return merged
