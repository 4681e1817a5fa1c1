"""Signals of the CRM area. Sender: the Flask app. Sent after the transaction commits."""

from blinker import Namespace

_ns = Namespace()

customer_created = _ns.signal("customer.created", doc="""A party (customer, prospect,
supplier …) was registered. Arguments: ``party_id`` (int), ``kind`` (str), ``roles``
(list of str), ``branch_id`` (int).""")

customer_updated = _ns.signal("customer.updated", doc="""A party's data changed.
Arguments: ``party_id`` (int), ``changes`` (dict field -> new value).""")

customer_merged = _ns.signal("customer.merged", doc="""Two parties were merged; every record
of ``removed_id`` now belongs to ``kept_id`` (plugins re-pointed theirs in the same
transaction through the ``customer_merge`` hook). Arguments: ``kept_id``, ``removed_id``.""")

vehicle_created = _ns.signal("vehicle.created", doc="""A vehicle was registered.
Arguments: ``vehicle_id`` (int), ``vin`` (str), ``owner_id`` (int or None).""")

vehicle_updated = _ns.signal("vehicle.updated", doc="""A vehicle's data changed.
Arguments: ``vehicle_id`` (int), ``changes`` (dict field -> new value).""")

vehicle_owner_changed = _ns.signal("vehicle.owner_changed", doc="""A vehicle changed hands.
Arguments: ``vehicle_id`` (int), ``old_owner_id`` (int or None), ``new_owner_id`` (int),
``since`` (date).""")

odometer_recorded = _ns.signal("vehicle.odometer_recorded", doc="""An odometer reading was
accepted. Arguments: ``vehicle_id`` (int), ``value_km`` (int), ``read_at`` (datetime),
``source`` (str).""")

timeline_entry_added = _ns.signal("timeline.entry_added", doc="""An interaction or follow-up
was recorded. Arguments: ``entry_id`` (int), ``party_id`` (int), ``kind`` (str).""")

followup_completed = _ns.signal("timeline.followup_completed", doc="""A task or return visit
was completed. Arguments: ``entry_id`` (int), ``party_id`` (int), ``satisfaction`` (int or
None).""")

revenue_recorded = _ns.signal("revenue.recorded", doc="""A plugin reported revenue of a
customer. Arguments: ``party_id`` (int), ``amount`` (Decimal), ``currency`` (str),
``source`` (str), ``ref`` (str).""")

custom_field_defined = _ns.signal("crm.custom_field_defined", doc="""An admin added a custom
field. Arguments: ``field_id`` (int), ``entity`` ("party" or "vehicle"), ``name`` (str).""")

ALL = [custom_field_defined, customer_created, customer_updated, customer_merged,
       vehicle_created, vehicle_updated, vehicle_owner_changed, odometer_recorded,
       timeline_entry_added, followup_completed, revenue_recorded]
