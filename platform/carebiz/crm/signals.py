"""Signals of the CRM area. Sender: the Flask app. Each is sent after the sender's
transaction commits (:func:`carebiz.events.emit`); a rollback means it is never sent."""

from carebiz.signals import declare

customer_created = declare(
    "customer.created", "A party (customer, prospect, supplier …) was registered.",
    sent_by="carebiz.crm.services.parties.create_party",
    arguments={"party_id": "int", "kind": "str", "roles": "list of str", "branch_id": "int"})

customer_updated = declare(
    "customer.updated", "A party's data changed (also the merged-away party of a merge, "
    "and an organization whose contact people changed).",
    sent_by="carebiz.crm.services.parties.update_party and set_contact, "
            "carebiz.crm.services.merge.merge_parties",
    arguments={"party_id": "int", "changes": "dict field -> new value"})

customer_merged = declare(
    "customer.merged", "Two parties were merged; every record of ``removed_id`` now belongs "
    "to ``kept_id`` (plugins re-pointed theirs in the same transaction through the "
    "``customer_merge`` hook).",
    sent_by="carebiz.crm.services.merge.merge_parties",
    arguments={"kept_id": "int", "removed_id": "int"})

vehicle_created = declare(
    "vehicle.created", "A vehicle was registered.",
    sent_by="carebiz.crm.services.vehicles.create_vehicle",
    arguments={"vehicle_id": "int", "vin": "str or None", "owner_id": "int or None"})

vehicle_updated = declare(
    "vehicle.updated", "A vehicle's data changed.",
    sent_by="carebiz.crm.services.vehicles.update_vehicle",
    arguments={"vehicle_id": "int", "changes": "dict field -> new value"})

vehicle_owner_changed = declare(
    "vehicle.owner_changed", "A vehicle changed hands.",
    sent_by="carebiz.crm.services.vehicles.change_owner",
    arguments={"vehicle_id": "int", "old_owner_id": "int or None", "new_owner_id": "int",
               "since": "date"})

odometer_recorded = declare(
    "vehicle.odometer_recorded", "An odometer reading was accepted.",
    sent_by="carebiz.crm.services.vehicles.record_odometer",
    arguments={"vehicle_id": "int", "value_km": "int", "read_at": "datetime",
               "source": "str"})

timeline_entry_added = declare(
    "timeline.entry_added", "An interaction or follow-up was recorded.",
    sent_by="carebiz.crm.services.timeline.add_entry",
    arguments={"entry_id": "int", "party_id": "int", "kind": "str"})

followup_completed = declare(
    "timeline.followup_completed", "A task or return visit was completed.",
    sent_by="carebiz.crm.services.timeline.complete_followup",
    arguments={"entry_id": "int", "party_id": "int", "satisfaction": "int or None"})

revenue_recorded = declare(
    "revenue.recorded", "A plugin reported revenue of a customer.",
    sent_by="carebiz.crm.services.value.record_revenue",
    arguments={"party_id": "int", "amount": "Decimal", "currency": "str", "source": "str",
               "ref": "str"})

custom_field_defined = declare(
    "crm.custom_field_defined", "An admin added a custom field.",
    sent_by="carebiz.crm.services.custom_fields.define",
    arguments={"field_id": "int", "entity": '"party" or "vehicle"', "name": "str"})

ALL = [custom_field_defined, customer_created, customer_updated, customer_merged,
       vehicle_created, vehicle_updated, vehicle_owner_changed, odometer_recorded,
       timeline_entry_added, followup_completed, revenue_recorded]
