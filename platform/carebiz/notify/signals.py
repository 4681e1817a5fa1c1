"""The notify service's own event: deliveries recorded, to be handed to their channels once
the sender's transaction has committed."""

from carebiz.signals import declare

deliveries_queued = declare(
    "notification.queued", "Notices were recorded for channels that deliver after commit.",
    sent_by="carebiz.notify.service.send",
    arguments={"delivery_ids": "list of int"})
