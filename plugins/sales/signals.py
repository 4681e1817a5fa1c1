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
    sent_by="carebiz_plugins.sales.services.test_drives.book_drive",
    arguments={"test_drive_id": "int", "vehicle_id": "int", "customer_id": "int",
               "starts_at": "datetime", "ends_at": "datetime"})

test_drive_returned = declare(
    "sales.test_drive.returned",
    "A demo car came back from a test drive; its odometer reading is on the core vehicle.",
    sent_by="carebiz_plugins.sales.services.test_drives.return_car",
    arguments={"test_drive_id": "int", "vehicle_id": "int", "customer_id": "int",
               "odometer_in": "int", "distance_km": "int"})

ALL = [prospect_registered, prospect_updated, prospect_status_changed, return_visit_done,
       showroom_visit_logged, test_drive_booked, test_drive_returned]
