"""Messages coming in from a gateway (an SMS provider posting what phones sent).

The gateway authenticates with its channel's token (``CAREBIZ_INBOUND_TOKENS``), not with a
user: the person behind a message is known only by the number it came from. So the sender
must be the registered phone of an active user before any plugin sees the text; everybody
else gets a polite refusal that tells nothing. Messages are rate limited per channel and
sender (``CAREBIZ_INBOUND_LIMIT``), so a leaked token cannot be used to walk the fleet.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.models import User
from carebiz.security.throttle import storage_url

log = logging.getLogger(__name__)

EXTENSION = "carebiz.inbound_limiter"
#: longest text a gateway may hand in (an SMS of several parts stays far below)
MAX_TEXT = 1000


def tokens(config: Mapping[str, Any]) -> dict[str, str]:
    """The configured tokens by channel: a mapping (``carebiz.toml``) or ``"sms=abc,x=def"``."""
    raw = config.get("CAREBIZ_INBOUND_TOKENS")
    if not raw:
        return {}
    if isinstance(raw, Mapping):
        return {str(k): str(v) for k, v in raw.items() if v}
    pairs = (part.split("=", 1) for part in str(raw).split(",") if "=" in part)
    return {name.strip(): token.strip() for name, token in pairs if token.strip()}


def token_ok(config: Mapping[str, Any], channel: str, given: str | None) -> bool:
    """Whether ``given`` is the channel's token (compared in constant time)."""
    expected = tokens(config).get(channel)
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class InboundLimiter:
    """A moving window per channel and sender, in the storage of the login throttle."""

    def __init__(self, app: Flask) -> None:
        self.items: list[RateLimitItem] = list(
            parse_many(str(app.config.get("CAREBIZ_INBOUND_LIMIT") or "30 per minute")))
        self.strategy = MovingWindowRateLimiter(storage_from_string(storage_url(app.config)))

    def hit(self, channel: str, sender: str) -> bool:
        """Count one message; False when the sender is over the limit. A storage that cannot
        be reached refuses (a gateway retries; an open door would not be noticed)."""
        try:
            return all(self.strategy.hit(item, "carebiz-inbound", channel, sender)
                       for item in self.items)
        except Exception:
            log.exception("inbound rate limit storage failed; refusing")
            return False


def limiter(app: Flask) -> InboundLimiter:
    found = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions[EXTENSION] = InboundLimiter(app)
    return found


def normalise_sender(session: Session, sender: str) -> str | None:
    """The sender's number in E.164 (read in the business's phone region), or None when it
    cannot be a phone number."""
    from carebiz.crm.validation import normalize_phone
    from carebiz.errors import ValidationFailed
    from carebiz.services.settings import get as setting
    from carebiz.toolkit import host

    try:
        return normalize_phone(sender, str(setting(session, host(), "crm.phone_region")),
                               field="sender")
    except ValidationFailed:
        return None


def user_by_phone(session: Session, e164: str) -> User | None:
    """The one active user with this phone number; None for nobody (or, by mistake, several:
    then nobody may act through it)."""
    found = list(session.scalars(select(User).where(User.phone == e164, User.active.is_(True))
                                 .limit(2)))
    return found[0] if len(found) == 1 else None


def refusal() -> str:
    return str(_("Sorry, this number is not registered for enquiries. Please contact your "
                 "dealer."))


def not_understood() -> str:
    return str(_("Sorry, this message was not understood. Send a plate number or a "
                 "tracker's IMEI."))


def answer(session: Session, host: Any, channel: str, sender: str, text: str) -> str:
    """The reply to one inbound message: a plugin's answer for a registered sender, else a
    refusal or a "not understood" (in the sender's language when known)."""
    e164 = normalise_sender(session, sender)
    user = user_by_phone(session, e164) if e164 else None
    if user is None:
        log.info("inbound %s message from unregistered sender %r refused", channel, sender)
        return refusal()
    from carebiz.notify.service import locale_of

    with force_locale(locale_of(user)):
        reply = host.call("inbound_message", session=session, channel=channel, sender=e164,
                          text=text.strip()[:MAX_TEXT], user=user)
        return str(reply) if reply else not_understood()
