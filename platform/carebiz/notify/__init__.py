"""Notifications: the one way plugins tell people something (an alarm, a renewal due, a
waybill delivered), through channels other plugins may add (in-app and e-mail ship with the
core; an SMS gateway is a ``notification_channels`` implementation away).

``send(session, Notice(Recipient.user(7), "SOS", ...))`` records the notice in the caller's
transaction and delivers it after the commit (see :mod:`carebiz.notify.service`); messages
coming back from a gateway reach plugins through the ``inbound_message`` hook
(:mod:`carebiz.notify.inbound`). ``Recipient.external(phone=…)`` reaches someone who is no
user (a consignee) through whatever channel takes that kind of address; when none can, the
attempt is recorded (``deliveries_about``, ``problem``) instead of vanishing.
"""

from carebiz.notify.channels import absolute_link
from carebiz.notify.notice import Notice, Recipient
from carebiz.notify.service import (
    channels,
    deliver_due,
    deliveries_about,
    locale_of,
    mark_all_read,
    mark_read,
    preferences,
    problem,
    send,
    send_many,
    set_preferences,
    unread_count,
)

__all__ = [
    "Notice",
    "Recipient",
    "absolute_link",
    "channels",
    "deliver_due",
    "deliveries_about",
    "locale_of",
    "mark_all_read",
    "mark_read",
    "preferences",
    "problem",
    "send",
    "send_many",
    "set_preferences",
    "unread_count",
]
