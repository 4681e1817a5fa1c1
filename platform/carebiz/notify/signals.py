"""Signals of the notify area. Sender: the Flask app. Each is sent after the sender's
transaction commits (:func:`carebiz.events.emit`); a rollback means it is never sent."""

from carebiz.signals import declare

deliveries_queued = declare(
    "notification.queued",
    "Notices were recorded for channels that deliver after commit (one event per "
    "transaction, however many notices it sent).",
    sent_by="carebiz.notify.service.send",
    arguments={"delivery_ids": "list of int"})

ALL = [deliveries_queued]
