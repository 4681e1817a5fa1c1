"""The values a sender hands to :func:`carebiz.notify.send`: who a notice is for and what it
says. Kept free of Flask and the database so channels, jobs and tests build them alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipient:
    """Who a notice is for: a user, a customer (a ``party``) or a bare address of one channel.

    Build it with :meth:`user`, :meth:`customer` or :meth:`to`; a user gets every channel they
    have not switched off, a customer every channel with an address on their record (opting in
    is the sender's business), a bare address only its channel."""

    user_id: int | None = None
    party_id: int | None = None
    channel: str | None = None
    address: str | None = None

    @classmethod
    def user(cls, user_id: int) -> Recipient:
        return cls(user_id=user_id)

    @classmethod
    def customer(cls, party_id: int) -> Recipient:
        return cls(party_id=party_id)

    @classmethod
    def to(cls, channel: str, address: str) -> Recipient:
        return cls(channel=channel, address=address)


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
