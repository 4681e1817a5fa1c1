"""What stock, quotations, orders and purchasing add to the plugin's contributions: their
permissions, settings, API blueprint and list exports. :mod:`.plugin` appends these to its
own, so this area stays one module to read (and one line each to merge)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from carebiz.contributions import MenuItem, Permission, RecordPage, SettingSpec

from . import api_commerce, views_commerce
from .documents import DOCUMENTS
from .lists_commerce import ALL as LISTS
from .services.quotations import DEFAULT_FEES, DEFAULT_LIMITS

READERS = ("manager", "salesperson", "read_only")
SELLERS = ("manager", "salesperson")

PERMISSIONS = [
    Permission("sales.stock", _l("Take cars into stock, receive and transfer them"),
               default_roles=("manager",), weight=310),
    Permission("sales.quotations", _l("Write and revise quotations"),
               default_roles=SELLERS, weight=311),
    Permission("sales.approve_discounts", _l("Approve discounts over a salesperson's limit"),
               default_roles=("manager",), weight=312),
    Permission("sales.orders", _l("Take orders, record payments and deliver cars"),
               default_roles=SELLERS, weight=313),
    Permission("sales.override_delivery",
               _l("Deliver a car with money outstanding (with a reason)"),
               default_roles=("manager",), weight=314),
    Permission("sales.purchasing", _l("Order cars from suppliers and receive them"),
               default_roles=("manager",), weight=315),
]

SETTINGS = [
    SettingSpec("sales.discount_limits", DEFAULT_LIMITS,
                _l("Discount limits per role (percent of the price)"),
                description=_l("role: percent, comma-separated; over the author's limit a "
                               "quotation waits for a manager. A role not named may give "
                               "no discount alone."), weight=320),
    SettingSpec("sales.fee_lines", DEFAULT_FEES, _l("Fee lines a quotation offers"),
                description=_l("Comma-separated (registration, insurance, purchase tax …)."),
                weight=321),
]

BLUEPRINTS = [api_commerce.blp]
WEB_BLUEPRINTS = [views_commerce.bp]

MENU = [MenuItem("sales.stock", _l("Stock"), "sales_commerce.stock_list",
                 permission="sales.view", section="main", icon="car-front-fill", weight=305,
                 parent="sales"),
        MenuItem("sales.orders", _l("Orders"), "sales_commerce.order_list",
                 permission="sales.view", section="main", icon="receipt", weight=306,
                 parent="sales")]

RECORD_PAGES = [
    RecordPage("sales_stock", "sales_commerce.stock_item", "stock_id", "sales.view",
               label=_l("Stock vehicle")),
    RecordPage("sales_quotation", "sales_commerce.quotation_item", "quotation_id",
               "sales.view", label=_l("Quotation")),
    RecordPage("sales_order", "sales_commerce.order_item", "order_id", "sales.view",
               label=_l("Sales order")),
    RecordPage("sales_purchase_order", "sales_commerce.purchase_item", "po_id", "sales.view",
               label=_l("Purchase order")),
]

__all__ = ["BLUEPRINTS", "DOCUMENTS", "LISTS", "MENU", "PERMISSIONS", "RECORD_PAGES", "SETTINGS",
           "WEB_BLUEPRINTS"]
