"""Query sources (``sales_stock``, ``sales_quotations``, ``sales_orders``,
``sales_opportunities``, ``sales_funnel``) and reports (sales by model and month, stock
aging, the pipeline's, the conversion funnel by source, salesperson and month), registered
with the core query service, which applies the branch row filter and the source's
permission."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import has_app_context
from flask_babel import lazy_gettext as _l

from carebiz.contributions import QueryField, QuerySource, Report, ReportParam

from .labels import choices
from .models import SalesOpportunity, SalesOrder, SalesQuotation, SalesStock
from .services.funnel import FUNNEL_SOURCE, MEASURES
from .services.opportunities import DEFAULT_STAGES, STATUS_LABELS, stage_choices

BRANCH_OPS = ("eq", "ne", "in", "empty", "not_empty")


class StageChoices(tuple[tuple[str, Any], ...]):
    """The ``choices`` of the opportunities' ``stage`` field, read when used: stage names
    are configured (per branch and make, in two languages), so a tuple fixed when the
    plugin registers would label only the built-in codes, and in one language.

    The query service iterates a field's choices once per answer (labels, the builder's
    picks); each iteration reads the stage names from the database of the current
    request, in the reader's language (:func:`~.services.opportunities.stage_choices`).
    Outside an application (docs, registration) it yields the built-in stages. Kept an
    empty tuple underneath, so the field still compares and hashes as a constant. The
    field stays ``text``: a code dropped from every pipeline can still be queried."""

    def __new__(cls) -> StageChoices:
        return super().__new__(cls, ())

    def _pairs(self) -> list[tuple[str, Any]]:
        if not has_app_context():
            return [(code, label) for code, (label, _p, _k) in DEFAULT_STAGES.items()]
        from carebiz import db

        return list(stage_choices(db.session()))

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._pairs())

    def __len__(self) -> int:
        return len(DEFAULT_STAGES)  # at least the built-in ones; cheap for truth tests

    def __bool__(self) -> bool:
        return True


STOCK_JOIN = (SalesStock, SalesStock.id == SalesOrder.stock_id)

SOURCES = [
    QuerySource("sales_stock", _l("Vehicle stock"), SalesStock, (
        QueryField("id", _l("Number"), "number"),
        QueryField("vin", _l("VIN"), "text"),
        QueryField("make", _l("Make"), "text"),
        QueryField("model", _l("Model"), "text"),
        QueryField("colour", _l("Colour"), "text"),
        QueryField("year", _l("Year"), "number"),
        QueryField("status", _l("Status"), "choice", choices=choices("stock")),
        QueryField("location", _l("Location"), "text"),
        QueryField("cost", _l("Cost"), "money"),
        QueryField("currency", _l("Currency"), "text"),
        QueryField("received_on", _l("Received on"), "date"),
        QueryField("branch_id", _l("Branch"), "number", BRANCH_OPS),
    ), permission="sales.view", weight=320),
    QuerySource("sales_quotations", _l("Quotations"), SalesQuotation, (
        QueryField("id", _l("Number"), "number"),
        QueryField("model", _l("Model"), "text"),
        QueryField("status", _l("Status"), "choice", choices=choices("quotation")),
        QueryField("total", _l("Total"), "money"),
        QueryField("currency", _l("Currency"), "text"),
        QueryField("revision", _l("Revision"), "number"),
        QueryField("created_at", _l("Written"), "datetime"),
        QueryField("valid_until", _l("Valid until"), "date"),
        QueryField("salesperson_id", _l("Salesperson"), "number"),
        QueryField("branch_id", _l("Branch"), "number", BRANCH_OPS),
    ), permission="sales.view", weight=321),
    QuerySource("sales_orders", _l("Sales orders"), SalesOrder, (
        QueryField("id", _l("Number"), "number"),
        QueryField("status", _l("Status"), "choice", choices=choices("order")),
        QueryField("payment_state", _l("Payment"), "choice", choices=choices("payment")),
        QueryField("vehicle_status", _l("Vehicle"), "choice", choices=choices("vehicle")),
        QueryField("delivery_status", _l("Delivery"), "choice", choices=choices("delivery")),
        QueryField("total", _l("Total"), "money"),
        QueryField("paid", _l("Paid"), "money"),
        QueryField("currency", _l("Currency"), "text"),
        QueryField("created_at", _l("Ordered"), "datetime"),
        QueryField("delivered_at", _l("Delivered"), "datetime"),
        QueryField("salesperson_id", _l("Salesperson"), "number"),
        QueryField("branch_id", _l("Branch"), "number", BRANCH_OPS),
        QueryField("model", _l("Model"), "text", column=SalesStock.model, join=STOCK_JOIN),
        QueryField("make", _l("Make"), "text", column=SalesStock.make, join=STOCK_JOIN),
    ), permission="sales.view", weight=322),
]

REPORTS = [
    Report("sales.by_model_month", _l("Sales by model and month"), "sales_orders",
           _l("Cars delivered in the chosen number of days, by model and month."),
           params=(ReportParam("days", _l("Days back"), "number", 365),),
           where={"and": [{"field": "delivered_at", "op": "last_days",
                           "value": {"param": "days"}}]},
           group_by=[{"field": "delivered_at", "by": "month"}, "model"], chart="stacked",
           weight=320),
    Report("sales.stock_aging", _l("Stock aging"), "sales_stock",
           _l("Cars on the floor (in stock or reserved) by the month they arrived, with "
              "their cost."),
           where={"field": "status", "op": "in", "value": ["in_stock", "reserved"]},
           group_by=[{"field": "received_on", "by": "month"}],
           measures=[{"fn": "count", "field": "id"}, {"fn": "sum", "field": "cost"}],
           chart="bar", weight=321),
]


# --- opportunities --------------------------------------------------------------------------

SOURCES.append(QuerySource("sales_opportunities", _l("Opportunities"), SalesOpportunity, (
    QueryField("id", _l("Number"), "number"),
    QueryField("customer_id", _l("Customer"), "number"),
    QueryField("brand", _l("Make"), "text"),
    QueryField("model", _l("Model"), "text"),
    QueryField("stage", _l("Stage"), "text", choices=StageChoices()),
    QueryField("status", _l("Status"), "choice", choices=tuple(STATUS_LABELS.items())),
    QueryField("expected_value", _l("Expected value"), "money"),
    QueryField("weighted_value", _l("Weighted value"), "money"),
    QueryField("currency", _l("Currency"), "text"),
    QueryField("probability", _l("Probability %"), "number"),
    QueryField("expected_close_on", _l("Expected close"), "date"),
    QueryField("closed_at", _l("Closed"), "datetime"),
    QueryField("created_at", _l("Opened"), "datetime"),
    QueryField("lost_reason", _l("Lost reason"), "text"),
    QueryField("salesperson_id", _l("Salesperson"), "number"),
    QueryField("branch_id", _l("Branch"), "number", BRANCH_OPS),
), permission="sales.view", weight=323))

REPORTS += [
    Report("sales.pipeline_by_stage", _l("Pipeline by stage"), "sales_opportunities",
           _l("Open opportunities per stage: how many, their value and weighted value."),
           where={"field": "status", "op": "eq", "value": "open"},
           group_by=["stage"],
           measures=[{"fn": "count", "field": "id"}, {"fn": "sum", "field": "expected_value"},
                     {"fn": "sum", "field": "weighted_value"}],
           chart="bar", weight=322),
    Report("sales.weighted_forecast", _l("Weighted forecast by month"), "sales_opportunities",
           _l("Open opportunities by the month they should close: value × probability."),
           where={"field": "status", "op": "eq", "value": "open"},
           group_by=[{"field": "expected_close_on", "by": "month"}],
           measures=[{"fn": "sum", "field": "weighted_value"},
                     {"fn": "sum", "field": "expected_value"}],
           chart="bar", weight=323),
    Report("sales.win_rate_by_salesperson", _l("Win rate by salesperson"),
           "sales_opportunities",
           _l("Closed opportunities per salesperson, won against lost, in the chosen days."),
           params=(ReportParam("days", _l("Days back"), "number", 180),),
           where={"and": [{"field": "status", "op": "in", "value": ["won", "lost"]},
                          {"field": "closed_at", "op": "last_days",
                           "value": {"param": "days"}}]},
           group_by=["salesperson_id", "status"], chart="stacked", weight=324),
]


# --- the conversion funnel (services/funnel.py) ---------------------------------------------

SOURCES.append(FUNNEL_SOURCE)

_FUNNEL_TEXT = _l("Prospects registered in the chosen days and how many of them got as far "
                  "as a visit or consultation, a test drive, a quotation, an order and "
                  "delivery (a step counts who reached it or a later one).")
#: a funnel reads a few indexed rows per prospect: 30 days of a busy group (≈8,000
#: prospects) take well under a second, a year of one may reach the query time limit
_DAYS = (ReportParam("days", _l("Days back"), "number", 30),)
_REGISTERED = {"field": "registered_at", "op": "last_days", "value": {"param": "days"}}

REPORTS += [
    Report("sales.funnel_by_source", _l("Conversion funnel by source"), FUNNEL_SOURCE.name,
           _FUNNEL_TEXT, params=_DAYS, where=_REGISTERED, group_by=["source"],
           measures=MEASURES, chart="bar", weight=325),
    Report("sales.funnel_by_salesperson", _l("Conversion funnel by salesperson"),
           FUNNEL_SOURCE.name, _FUNNEL_TEXT, params=_DAYS, where=_REGISTERED,
           group_by=["salesperson_id"], measures=MEASURES, chart="bar", weight=326),
    Report("sales.funnel_by_month", _l("Conversion funnel by month"), FUNNEL_SOURCE.name,
           _FUNNEL_TEXT, params=(ReportParam("days", _l("Days back"), "number", 180),),
           where=_REGISTERED, group_by=[{"field": "registered_at", "by": "month"}],
           measures=MEASURES, chart="bar", weight=327),
]
