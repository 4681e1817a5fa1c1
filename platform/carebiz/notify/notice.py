"""The values a sender hands to :func:`carebiz.notify.send`: who a notice is for and what it
says. Kept free of Flask and the database so channels, jobs and tests build them alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    """Who a notice is for: a user, a customer (a ``party``), a bare address of one channel,
    or an outside person known only by their addresses.

    Build it with :meth:`user`, :meth:`customer`, :meth:`to` or :meth:`external`; a user gets
    every channel they have not switched off, a customer every channel with an address on
    their record (opting in is the sender's business), a bare address only its channel, an
    outside person every channel that takes one of the kinds of address given."""

    user_id: int | None = None
    party_id: int | None = None
    channel: str | None = None
    address: str | None = None
    #: an outside person's addresses as ``(kind, address)`` pairs, the kinds channels name in
    #: their ``address`` (``phone``, ``email``); an empty address is one known to be missing
    addresses: tuple[tuple[str, str], ...] = ()

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        return cls(user_id=user_id)

    @classmethod
    def customer(cls, party_id: int) -> Recipient:
        return cls(party_id=party_id)

    @classmethod
    def to(cls, channel: str, address: str) -> Recipient:
        return cls(channel=channel, address=address)

    @classmethod
    def external(cls, **addresses: str | None) -> Recipient:
        """Someone who is neither a user nor a customer (a waybill's consignee), by kind of
        address: ``Recipient.external(phone="138 0013 8000", email="")``. The sender need not
        know which channels exist: an SMS gateway added later reaches the phone without a
        change to the sender. A kind given as ``None`` is left out; one given as ``""`` is
        recorded as missing when nothing else reaches the person."""
        return cls(addresses=tuple((kind, str(value).strip()) for kind, value
                                   in addresses.items() if value is not None))


@dataclass(frozen=True)
class Notice:
    """One message to one recipient. Texts are final (already in the recipient's language:
    wrap the building of a notice in ``flask_babel.force_locale(user.locale)``)."""

    recipient: Recipient
    subject: str
    text: str = ""
    #: a path of this site (``/gps/alarms/12``); channels that leave the site make it absolute
    #: with ``CAREBIZ_PUBLIC_URL``
    link: str = ""
    #: what it is about, ``<plugin>.<what>`` (``gps.alarm``)
    kind: str = ""
    #: the plugin sending it
    source: str = "core"
    #: ``low``, ``normal`` or ``high``
    importance: str = "normal"
    #: only these channels (empty: every channel the recipient takes)
    channels: tuple[str, ...] = ()
    #: the record the notice is about (``"gps_waybill_event"``, its id), kept on each
    #: delivery so the record's page can show what became of the notice
    #: (:func:`carebiz.notify.deliveries_about`)
    about_type: str = ""
    about_id: int | None = None
