"""API tokens: random secrets, stored as SHA-256 hashes, shown once, revocable.

SHA-256 is enough for 256-bit random tokens (they cannot be guessed, so a slow hash buys
nothing) and lets a request find its token with one indexed lookup."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from carebiz.db import utcnow
from carebiz.errors import Conflict, Forbidden, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import ApiToken, User
from carebiz.security.permissions import TOKENS_PERMISSION, can
from carebiz.signals import core as signals

PREFIX = "cbz_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, name: str = "",
                 expires_at: dt.datetime | None = None, *,
                 by_operator: bool = False) -> tuple[ApiToken, str]:
    """Issue a token; return the record and the secret (the only time it is known).

    A user issues tokens for themselves only with ``api.tokens`` (the read-only role has it
    not: a token is a way to take data out in bulk). ``by_operator``: issued by whoever runs
    ``carebiz tokens create`` at the server, who is trusted and not limited."""
    if not by_operator and not can(user, TOKENS_PERMISSION):
        raise Forbidden(_("Your role may not create API tokens; ask an administrator for "
                          "the permission “Create own API tokens”."))
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed(_("The expiry date must lie in the future."),
                               {"expires_at": _("Must lie in the future.")})
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name.strip()[:120], prefix=secret[:10],
                     token_hash=hash_token(secret), expires_at=expires_at)
    session.add(token)
    session.flush()
    emit(session, signals.token_created, token_id=token.id, user_id=user.id,
         audit=Audit("api_token", token.id, N_("Token %(prefix)s… issued to %(user)s"),
                     args={"prefix": token.prefix, "user": user.username}))
    return token, secret


def revoke_token(session: Session, token: ApiToken) -> ApiToken:
    if token.revoked_at is not None:
        raise Conflict(_("This token is revoked already."))
    token.revoked_at = utcnow()
    session.flush()
    emit(session, signals.token_revoked, token_id=token.id, user_id=token.user_id,
         audit=Audit("api_token", token.id, N_("Token %(prefix)s… revoked"),
                     args={"prefix": token.prefix}))
    return token


def user_for_token(session: Session, secret: str) -> User | None:
    """The active user a usable token belongs to; records when the token was last used.
    (Requests go through ``carebiz.security.identity_cache``, which caches this.)"""
    if not secret or not secret.startswith(PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or not token.usable() or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        touch(session.get_bind(), token.id, now)
    return token.user


#: how stale ``last_used_at`` may get, so that every API call is not a write
TOUCH_EVERY = dt.timedelta(minutes=5)


def touch(bind: Engine | Connection, token_id: int, now: dt.datetime) -> None:
    """Record that a token was used, in a transaction of its own (never the caller's
    session: that would commit whatever the caller has pending). Bookkeeping: it changes
    nothing a process caches about the token, so it leaves the cache generations alone (a
    Core statement passes none of the session's listeners)."""
    with bind.connect() as conn:
        conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
        conn.commit()
