"""Domain events of the sales plugin, declared once so receivers know what they get.

Each is sent by the Flask app only after the transaction that caused it commits
(:func:`carebiz.events.emit`); a rollback means it is never sent. Other plugins receive them
through their ``event_receivers`` hook (the care plugin schedules a first service on
``sales.vehicle.delivered``) without importing sales: ``uses=("sales",)`` and
``carebiz.signals.declared()`` give them the signal by name.
"""

from carebiz.signals import declare

prospect_registered = declare(
    "sales.prospect.registered",
    "A prospect was registered (a new or an existing customer, now in the prospect role).",
    sent_by="carebiz_plugins.sales.services.prospects.register_prospect",
    arguments={"prospect_id": "int", "customer_id": "int", "branch_id": "int",
               "salesperson_id": "int or None", "source": "str",
               "new_customer": "bool: the customer was created for this prospect"})

prospect_updated = declare(
    "sales.prospect.updated",
    "What was learnt about a prospect changed (source, salesperson, budget, interests …).",
    sent_by="carebiz_plugins.sales.services.prospects.update_prospect",
    arguments={"prospect_id": "int", "customer_id": "int",
               "changes": "dict field -> new value"})

prospect_status_changed = declare(
    "sales.prospect.status_changed",
    "A prospect moved from one status to another (approved, rejected, won, lost, reopened).",
    sent_by="carebiz_plugins.sales.services.prospects.transition",
    arguments={"prospect_id": "int", "customer_id": "int", "branch_id": "int",
               "old_status": "str", "new_status": "str", "action": "str",
               "lost_reason": "str (empty unless lost)"})

return_visit_done = declare(
    "sales.return_visit.done",
    "A return visit of a prospect was done, with its outcome.",
    sent_by="carebiz_plugins.sales.services.visits.complete_visit",
    arguments={"visit_id": "int", "prospect_id": "int", "customer_id": "int",
               "outcome": "str", "next_visit_id": "int or None"})

showroom_visit_logged = declare(
    "sales.showroom_visit.logged",
    "A party walking into the showroom was logged.",
    sent_by="carebiz_plugins.sales.services.showroom.log_visit",
    arguments={"visit_id": "int", "branch_id": "int", "customer_id": "int or None"})

test_drive_booked = declare(
    "sales.test_drive.booked",
    "A test drive was booked on a demo car.",
    sent_by="carebiz_plugins.sales.services.drives.book_drive",
    arguments={"test_drive_id": "int", "vehicle_id": "int", "customer_id": "int",
               "starts_at": "datetime", "ends_at": "datetime"})

test_drive_returned = declare(
    "sales.test_drive.returned",
    "A demo car came back from a test drive; its odometer reading is on the core vehicle.",
    sent_by="carebiz_plugins.sales.services.drives.return_car",
    arguments={"test_drive_id": "int", "vehicle_id": "int", "customer_id": "int",
               "odometer_in": "int", "distance_km": "int"})


# --- stock, quotations, orders, purchasing ---------------------------------------------

stock_changed = declare(
    "sales.stock.changed",
    "A stock vehicle was taken into stock, changed status or moved to another branch.",
    sent_by="carebiz_plugins.sales.services.stock.create_stock, move, transfer",
    arguments={"stock_id": "int", "vehicle_id": "int", "vin": "str",
               "old_status": "str (empty when taken into stock)", "new_status": "str",
               "branch_id": "int (where the car is now)"})

quotation_saved = declare(
    "sales.quotation.saved",
    "A quotation was written or revised (a new revision), or approved by a manager.",
    sent_by="carebiz_plugins.sales.services.quotations.create_quotation, revise, approve",
    arguments={"quotation_id": "int", "customer_id": "int", "revision": "int",
               "total": "Decimal", "currency": "str", "status": "str"})

order_confirmed = declare(
    "sales.order.confirmed",
    "A customer accepted a quotation: a sales order (booking) exists, its VIN reserved if "
    "the quotation named a stock car.",
    sent_by="carebiz_plugins.sales.services.orders.accept_quotation",
    arguments={"order_id": "int", "quotation_id": "int", "customer_id": "int",
               "branch_id": "int", "vehicle_id": "int or None", "total": "Decimal",
               "currency": "str"})

order_progressed = declare(
    "sales.order.progressed",
    "A step of a sales order was taken besides payment and delivery: a car allocated, its "
    "inspection recorded, its registration done, the order cancelled.",
    sent_by="carebiz_plugins.sales.services.orders.allocate, inspect, register, cancel",
    arguments={"order_id": "int", "step": "str: allocate, inspect, register or cancel",
               "status": "str (the headline status now)"})

payment_received = declare(
    "sales.order.payment_received",
    "Money was received against a sales order.",
    sent_by="carebiz_plugins.sales.services.orders.add_payment",
    arguments={"order_id": "int", "payment_id": "int", "amount": "Decimal",
               "currency": "str", "payment_status": "str"})

vehicle_delivered = declare(
    "sales.vehicle.delivered",
    "A sold car was handed over: the core vehicle is now the customer's, the sale is in "
    "the customer's lifetime value and the customer has the customer role. The care "
    "plugin schedules the first service from this.",
    sent_by="carebiz_plugins.sales.services.orders.deliver",
    arguments={"order_id": "int", "customer_id": "int", "vehicle_id": "int", "vin": "str",
               "branch_id": "int", "delivered_on": "date", "total": "Decimal",
               "currency": "str", "overridden": "bool: delivered with money outstanding"})

purchase_order_saved = declare(
    "sales.purchase_order.saved",
    "A purchase order was placed, cancelled or a payment to its supplier recorded; or a "
    "price inquiry to a supplier was sent, answered, ordered or declined.",
    sent_by="carebiz_plugins.sales.services.purchasing.create_purchase_order, cancel, pay, "
            "request_quote, record_quote, order_from_quote, decline_quote",
    arguments={"purchase_order_id": "int (0 for a quote not ordered yet)",
               "supplier_id": "int",
               "status": "str (the purchase order's, or the quote's for quote_… steps)",
               "step": "str: placed, cancelled, paid, quote_requested, quote_quoted, "
                       "quote_ordered or quote_declined"})

purchase_received = declare(
    "sales.purchase_order.received",
    "Vehicles of a purchase order arrived and entered stock.",
    sent_by="carebiz_plugins.sales.services.purchasing.receive",
    arguments={"purchase_order_id": "int", "supplier_id": "int",
               "stock_ids": "list of int", "status": "str"})

ALL = [prospect_registered, prospect_updated, prospect_status_changed, return_visit_done,
       showroom_visit_logged, test_drive_booked, test_drive_returned,
       stock_changed, quotation_saved, order_confirmed, order_progressed, payment_received,
       vehicle_delivered, purchase_order_saved, purchase_received]


# --- opportunities and the pipeline (spipe) ----------------------------------------------

_OPP = "carebiz_plugins.sales.services.opportunities"

opportunity_opened = declare(
    "sales.opportunity.opened",
    "An opportunity was opened for a customer, in the first (or a chosen) open stage.",
    sent_by=f"{_OPP}.create_opportunity",
    arguments={"opportunity_id": "int", "customer_id": "int", "branch_id": "int",
               "stage": "str", "expected_value": "Decimal", "currency": "str"})

opportunity_updated = declare(
    "sales.opportunity.updated",
    "What is known about an opportunity changed (model, value, close date, salesperson, "
    "probability …).",
    sent_by=f"{_OPP}.update_opportunity",
    arguments={"opportunity_id": "int", "customer_id": "int",
               "changes": "dict field -> new value"})

opportunity_moved = declare(
    "sales.opportunity.moved",
    "An opportunity moved from one open stage of its pipeline to another.",
    sent_by=f"{_OPP}.move",
    arguments={"opportunity_id": "int", "customer_id": "int", "old_stage": "str",
               "new_stage": "str"})

opportunity_won = declare(
    "sales.opportunity.won",
    "An opportunity was won: moved to its pipeline's won stage, by hand or because the "
    "customer accepted a quotation (then ``order_id`` names the order).",
    sent_by=f"{_OPP}.move (also from win_on_order)",
    arguments={"opportunity_id": "int", "customer_id": "int", "branch_id": "int",
               "expected_value": "Decimal", "currency": "str", "order_id": "int or None"})

opportunity_lost = declare(
    "sales.opportunity.lost",
    "An opportunity was lost, with a reason from ``sales.lost_reasons``.",
    sent_by=f"{_OPP}.move",
    arguments={"opportunity_id": "int", "customer_id": "int", "branch_id": "int",
               "expected_value": "Decimal", "currency": "str", "lost_reason": "str"})

pipeline_changed = declare(
    "sales.pipeline.changed",
    "The stages of a pipeline (a branch's, a make's or the company's) were replaced.",
    sent_by=f"{_OPP}.set_stages",
    arguments={"branch_id": "int or None (every branch)", "brand": "str (empty: every make)",
               "stages": "list of str: the stage codes in order"})

ALL += [opportunity_opened, opportunity_updated, opportunity_moved, opportunity_won,
        opportunity_lost, pipeline_changed]
