"""Login throttling: failed password checks counted per account and per address.

Only *failures* count, so people who type their password right are never slowed down, and a
successful login clears the account's count. Two counters, each a moving window:

- per account (``CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT``, default 5 per 15 minutes): guessing one
  user's password. Counted by the name typed, whether or not such a user exists, so the
  answer does not tell which names exist.
- per address (``CAREBIZ_LOGIN_LIMIT_PER_ADDRESS``, default 20 per 15 minutes): one client
  trying a few passwords against many accounts (spraying).

While either is exhausted the login is refused even with the right password, with the time
to wait; the moment a lock begins is written to the audit log. An empty setting switches that
counter off.

Counts live in a storage of the ``limits`` library, named by URL (``memory://`` or
``redis://…``; the moving window needs one of those two, or Redis Sentinel/Cluster):
``CAREBIZ_RATELIMIT_STORAGE_URL``, by default ``memory://`` — per process — or the job queue's
Redis when ``CAREBIZ_JOB_QUEUE=rq``, so that several gunicorn workers share one count.
``limits`` is the engine of Flask-Limiter; the extension itself is not used because its
``before_request`` hook evaluates route limits on every request (about 0.3–0.5 ms each,
measured) while only failed logins are counted here, and the account key is only known once
the form is read. If the storage cannot be reached the login is not blocked (logged), so an
outage of Redis does not lock everybody out.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import User
from carebiz.signals import core as signals

log = logging.getLogger(__name__)

EXTENSION = "carebiz.login_throttle"
ACCOUNT = "account"
ADDRESS = "address"


@dataclass(frozen=True)
class Lockout:
    """Logins are refused for ``scope`` (account or address) for ``retry_after`` seconds."""

    scope: str
    retry_after: int
    failures: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def storage_url(config: dict[str, Any]) -> str:
    """The explicit setting; else the job queue's Redis when there is one; else memory."""
    url = config.get("CAREBIZ_RATELIMIT_STORAGE_URL")
    if url:
        return str(url)
    if config.get("CAREBIZ_JOB_QUEUE") == "rq" and config.get("CAREBIZ_REDIS_URL"):
        return str(config["CAREBIZ_REDIS_URL"])
    return "memory://"


def _limits(config: dict[str, Any], key: str) -> list[RateLimitItem]:
    text = str(config.get(key) or "").strip()
    if not text:
        return []
    try:
        return list(parse_many(text))
    except ValueError as exc:  # a typo in the settings must stop the app, not open the door
        raise ValueError(f"{key}: {exc} (write e.g. '5 per 15 minutes')") from exc


def remote_address() -> str:
    """The client's address as the WSGI server reports it; behind a reverse proxy set
    ``CAREBIZ_TRUSTED_PROXIES``, or every client is the proxy and shares one count. Empty when
    unknown (a Unix socket): the address counter is then skipped rather than shared by all."""
    return request.remote_addr or ""


def account_key(username: str) -> str:
    return (username or "").strip().lower()[:80]


class LoginThrottle:
    """Counts failed logins; see the module docstring."""

    def __init__(self, storage: Storage, per_account: list[RateLimitItem],
                 per_address: list[RateLimitItem]) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.items = {ACCOUNT: per_account, ADDRESS: per_address}

    def _keys(self, username: str) -> dict[str, str]:
        return {ACCOUNT: account_key(username), ADDRESS: remote_address()}

    def _lockout(self, keys: dict[str, str]) -> Lockout | None:
        """The longest lock among the exhausted counters, or None."""
        worst: Lockout | None = None
        strategy = self.strategy
        now = time.time()
        for scope, items in self.items.items():
            for item in items if keys[scope] else ():
                ids = ("carebiz-login", scope, keys[scope])
                if strategy.test(item, *ids):
                    continue
                reset_at, _remaining = strategy.get_window_stats(item, *ids)
                lock = Lockout(scope, max(1, math.ceil(reset_at - now)), item.amount)
                if worst is None or lock.retry_after > worst.retry_after:
                    worst = lock
        return worst

    def check(self, username: str) -> Lockout | None:
        """Before checking a password: the lock in force for this name or address, if any."""
        try:
            return self._lockout(self._keys(username))
        except Exception:  # storage unreachable: do not lock everybody out
            log.exception("login throttle storage failed; not throttling")
            return None

    def failed(self, username: str) -> Lockout | None:
        """Count a failed attempt; return the lock that this failure started, if any."""
        keys = self._keys(username)
        try:
            for scope, items in self.items.items():
                for item in items if keys[scope] else ():
                    self.strategy.hit(item, "carebiz-login", scope, keys[scope])
            return self._lockout(keys)
        except Exception:
            log.exception("login throttle storage failed; failure not counted")
            return None

    def succeeded(self, username: str) -> None:
        """The right password: forget the account's failures (not the address's, or one
        valid account would let a sprayer start again)."""
        key = account_key(username)
        try:
            for item in self.items[ACCOUNT]:
                self.strategy.clear(item, "carebiz-login", ACCOUNT, key)
        except Exception:
            log.exception("login throttle storage failed")

    def reset(self) -> None:
        """Forget every count (tests; an administrator after an incident)."""
        self.storage.reset()


def init_app(app: Flask) -> None:
    per_account = _limits(app.config, "CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT")
    per_address = _limits(app.config, "CAREBIZ_LOGIN_LIMIT_PER_ADDRESS")
    # one storage per app: apps living side by side (tests) must not share memory counts
    storage = storage_from_string(storage_url(app.config))
    app.extensions[EXTENSION] = LoginThrottle(storage, per_account, per_address)


def login_throttle() -> LoginThrottle:
    return current_app.extensions[EXTENSION]


def record_lockout(session: Session, lock: Lockout, username: str) -> None:
    """Write the start of a lock to the audit log (once per lock, not per refused try)."""
    args = {"name": account_key(username), "address": remote_address() or "?",
            "n": lock.failures, "minutes": lock.minutes}
    if lock.scope == ACCOUNT:
        user = session.scalar(select(User).where(func.lower(User.username) == args["name"]))
        entity = ("user", user.id) if user is not None else ("login", args["name"][:64])
        summary = N_("Logins as %(name)s paused for %(minutes)s min after %(n)s failed "
                     "attempts (last from %(address)s)")
    else:
        entity = ("login", args["address"][:64])
        summary = N_("Logins from %(address)s paused for %(minutes)s min after %(n)s failed "
                     "attempts (last as %(name)s)")
    emit(session, signals.login_throttled, scope=lock.scope, username=args["name"],
         address=args["address"],
         audit=Audit(entity[0], entity[1], summary, None,
                     {"scope": lock.scope, "address": args["address"]}, args=args))
