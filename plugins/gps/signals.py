"""Domain events of the GPS plugin, declared once so receivers know what they get.

Each is sent only after the transaction that caused it commits (:func:`carebiz.events.emit`
queues it on the session; a rollback drops it). The ingest sink commits a batch at a time, so
``gps.alarm.raised`` and ``gps.device.pending`` reach receivers after their rows are stored.
Other plugins receive them through their ``event_receivers`` hook with ``uses=("gps",)``
without importing this module (``carebiz.signals.declared()`` gives them by name).

Positions are deliberately *not* signals: thousands a second go to the live bus
(``services.live``), not to blinker receivers.
"""

from carebiz.signals import declare

device_registered = declare(
    "gps.device.registered",
    "A tracker was registered by IMEI and linked to a vehicle (a new device, or a pending "
    "device an admin assigned).",
    sent_by="carebiz_plugins.gps.services.devices.register_device, assign_device",
    arguments={"device_id": "int", "imei": "str", "vehicle_id": "int",
               "customer_id": "int or None: the vehicle's owner", "branch_id": "int",
               "was_pending": "bool: an unknown IMEI that had logged in before"})

device_pending = declare(
    "gps.device.pending",
    "An unknown IMEI tried to log in for the first time and was recorded as a pending "
    "device an admin can assign (sent once per IMEI, not on each retry).",
    sent_by="carebiz_plugins.gps.services.positions.record_pending",
    arguments={"device_id": "int", "imei": "str", "peer": "str: the address it came from",
               "protocol": "str"})

device_updated = declare(
    "gps.device.updated",
    "A device's details changed (label, model, SIM, password, vehicle) or it was disabled "
    "or enabled again.",
    sent_by="carebiz_plugins.gps.services.devices.update_device, disable_device, "
            "enable_device",
    arguments={"device_id": "int", "imei": "str", "changes": "dict field -> new value"})

alarm_raised = declare(
    "gps.alarm.raised",
    "An alarm was stored: raised by the device (SOS, power cut …) or by a rule at ingest "
    "(overspeed, geofence, idle …). Not sent for re-uploaded history.",
    sent_by="carebiz_plugins.gps.services.alarms.raise_alarms (called by "
            "carebiz_plugins.gps.ingest.pipeline for every ingest path)",
    arguments={"alarm_id": "int", "device_id": "int", "vehicle_id": "int or None",
               "branch_id": "int", "type": "str: one of fixes.ALARM_TYPES",
               "fix_time": "datetime (UTC)", "latitude": "float or None",
               "longitude": "float or None", "details": "dict"})

alarm_acknowledged = declare(
    "gps.alarm.acknowledged",
    "A person acknowledged an alarm with a note.",
    sent_by="carebiz_plugins.gps.services.alarm_desk.acknowledge",
    arguments={"alarm_id": "int", "device_id": "int", "user_id": "int", "note": "str"})

command_queued = declare(
    "gps.command.queued",
    "A command (cut-off, restore, custom text) was queued for a device.",
    sent_by="carebiz_plugins.gps.services.commands.request_command",
    arguments={"command_id": "int", "device_id": "int", "kind": "str",
               "requested_by": "int or None"})

command_replied = declare(
    "gps.command.replied",
    "A device answered a command; the reply text is recorded on the command.",
    sent_by="carebiz_plugins.gps.ingest.store (the sink's command_reply)",
    arguments={"command_id": "int or None: the command answered, if one was sent",
               "device_id": "int", "reply": "str"})


# --- service subscriptions and waybills (helper gsubs) ---------------------------------------

subscription_started = declare(
    "gps.subscription.started",
    "A device got its platform service subscription (its first period, free or paid).",
    sent_by="carebiz_plugins.gps.services.subscriptions.subscribe",
    arguments={"subscription_id": "int", "device_id": "int",
               "customer_id": "int or None: the vehicle's owner", "branch_id": "int",
               "start_on": "date", "end_on": "date"})

subscription_renewed = declare(
    "gps.subscription.renewed",
    "A subscription was renewed for a year: a payment was recorded (and reported to the "
    "core as the customer's revenue when the vehicle has an owner).",
    sent_by="carebiz_plugins.gps.services.subscriptions.renew",
    arguments={"subscription_id": "int", "payment_id": "int", "device_id": "int",
               "customer_id": "int or None", "amount": "Decimal", "currency": "str",
               "end_on": "date: the new last day of service"})

subscription_reminder = declare(
    "gps.subscription.reminder_sent",
    "A renewal reminder was written on the customer's timeline (once per period, a week "
    "before the subscription ends by default).",
    sent_by="carebiz_plugins.gps.services.subscriptions.send_reminders",
    arguments={"subscription_id": "int", "customer_id": "int", "entry_id": "int",
               "end_on": "date"})

waybill_created = declare(
    "gps.waybill.created",
    "A waybill was received (its first status, ``received``).",
    sent_by="carebiz_plugins.gps.services.waybills.create_waybill",
    arguments={"waybill_id": "int", "number": "str", "branch_id": "int",
               "vehicle_id": "int or None"})

waybill_status_changed = declare(
    "gps.waybill.status_changed",
    "A waybill's status changed by a scan (loaded, in transit, delivered), with the "
    "vehicle's position at that moment when its tracker had one.",
    sent_by="carebiz_plugins.gps.services.waybills.move",
    arguments={"waybill_id": "int", "number": "str", "branch_id": "int",
               "from_status": "str", "status": "str", "event_id": "int",
               "latitude": "float or None", "longitude": "float or None",
               "consignee_phone": "str: where a status notice goes"})

geofence_saved = declare(
    "gps.geofence.saved",
    "A geofence was drawn or changed (its shape, schedule, limit or assignments); rules "
    "that keep fences in memory reload it.",
    sent_by="carebiz_plugins.gps.services.geofences.save_geofence",
    arguments={"geofence_id": "int", "branch_id": "int", "created": "bool"})

geofence_deleted = declare(
    "gps.geofence.deleted",
    "A geofence was deleted with its assignments.",
    sent_by="carebiz_plugins.gps.services.geofences.delete_geofence",
    arguments={"geofence_id": "int", "branch_id": "int"})

group_saved = declare(
    "gps.group.saved",
    "A vehicle group was created or changed (limits, allowed hours, vehicles).",
    sent_by="carebiz_plugins.gps.services.geofences.save_group",
    arguments={"group_id": "int", "branch_id": "int", "created": "bool"})

group_deleted = declare(
    "gps.group.deleted",
    "A vehicle group was deleted (its vehicles stay; its limits no longer apply).",
    sent_by="carebiz_plugins.gps.services.geofences.delete_group",
    arguments={"group_id": "int", "branch_id": "int"})

waybill_link_issued = declare(
    "gps.waybill.link_issued",
    "A public tracking link of a waybill was issued (the token itself is never sent); with "
    "``revoked_previous`` every link given out before stopped working.",
    sent_by="carebiz_plugins.gps.services.waybills.issue_token",
    arguments={"waybill_id": "int", "number": "str", "branch_id": "int",
               "revoked_previous": "bool", "expires_at": "datetime (UTC)"})
