"""Who a bearer token or a session belongs to, kept per process and checked on every request.

Loading the user with roles, grants and branches as ORM objects took four statements and much
of a request's CPU on every request. A process here keeps a frozen snapshot per user (every
column but the password hash, role names and grants, branch ids) and per token (its user,
expiry, revocation), and hands each request a light :class:`Identity` built from it.

The snapshots hold while the ``security`` generation is unchanged (``carebiz.generations``):
any change to users, roles, grants, branches or tokens, in any process, increments it in the
same transaction, and the first request that reads the new value drops every snapshot of the
process. So a revoked token, a switched-off user, a changed role, grant or branch grant takes
effect on the very next request in every worker. Expiry is checked on every request against
the clock. When the counters cannot be read (no table yet) nothing is cached.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz import db
from carebiz.db import utcnow
from carebiz.generations import SECURITY
from carebiz.models import ApiToken, Branch, Role, RolePermission, User
from carebiz.models.user import user_branches, user_roles
from carebiz.services import tokens

#: snapshots kept per process before they are all dropped (far more than active users)
MAX_ENTRIES = 10_000
#: columns never copied into a snapshot
PRIVATE = frozenset({"password_hash"})
EXTENSION = "carebiz.identity_cache"


@dataclass(frozen=True)
class RoleInfo:
    """A role as the permission checks and pages read it from the user."""

    id: int
    name: str
    label: str
    superuser: bool
    builtin: bool
    permission_names: frozenset[str]


@dataclass(frozen=True)
class BranchInfo:
    """A branch granted to the user."""

    id: int
    code: str
    name: str
    active: bool


@dataclass(frozen=True)
class Snapshot:
    """What the process knows about one user: the attributes an :class:`Identity` has."""

    fields: Mapping[str, Any]

    @property
    def active(self) -> bool:
        return bool(self.fields["active"])


@dataclass(frozen=True)
class TokenEntry:
    token_id: int
    user_id: int
    expires_at: dt.datetime | None
    revoked: bool


class Identity(UserMixin):
    """The authenticated user as one request sees it.

    Reads of the usual attributes (``id``, ``username``, ``roles``, ``branch_ids``,
    ``permission_names``, ``is_superuser`` …) come from the snapshot; anything else (the
    password hash) and every write go to the ``User`` row, loaded from the request's session
    on first need, so ``current_user.locale = "zh_CN"`` followed by a commit still saves."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.__dict__.update(snapshot.fields)

    @property
    def record(self) -> User:
        """The ``User`` row in the request's session (loaded once)."""
        record = self.__dict__.get("_record")
        if record is None:
            record = db.session().get(User, self.__dict__["id"])
            self.__dict__["_record"] = record
        return record

    def __getattr__(self, name: str) -> Any:  # only for names the snapshot lacks
        if name.startswith("__") or name == "_record":
            raise AttributeError(name)
        return getattr(self.record, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.record, name, value)
        self.__dict__[name] = value

    @property
    def is_active(self) -> bool:
        return bool(self.__dict__["active"])

    def get_id(self) -> str:
        """As :meth:`carebiz.models.User.get_id`: the id and the session epoch."""
        return f"{self.__dict__['id']}:{self.__dict__.get('session_epoch') or 0}"

    def __repr__(self) -> str:
        return f"<Identity {self.__dict__['username']}>"


class IdentityCache:
    """The snapshots of one app in this process, for one ``security`` generation."""

    def __init__(self) -> None:
        self.generation: int | None = None
        self.users: dict[int, Snapshot | None] = {}
        self.tokens: dict[str, TokenEntry | None] = {}
        #: when this process last wrote each token's ``last_used_at``
        self.touched: dict[int, dt.datetime] = {}

    def sync(self, generation: int | None) -> bool:
        """Drop everything cached under another generation; False when nothing may be
        cached (the counters are unreadable)."""
        if generation != self.generation or generation is None:
            self.users, self.tokens = {}, {}
            self.generation = generation
        return generation is not None

    def user(self, session: Session, user_id: int, cache: bool) -> Snapshot | None:
        if cache and user_id in self.users:
            return self.users[user_id]
        snapshot = load_snapshot(session, user_id)
        if cache:
            _bounded(self.users)[user_id] = snapshot
        return snapshot

    def token(self, session: Session, digest: str, cache: bool) -> TokenEntry | None:
        if cache and digest in self.tokens:
            return self.tokens[digest]
        row = session.execute(select(ApiToken.id, ApiToken.user_id, ApiToken.expires_at,
                                     ApiToken.revoked_at, ApiToken.last_used_at)
                              .where(ApiToken.token_hash == digest)).first()
        entry = None
        if row is not None:
            entry = TokenEntry(row.id, row.user_id, row.expires_at, row.revoked_at is not None)
            if row.last_used_at is not None:
                _bounded(self.touched)[row.id] = max(
                    row.last_used_at, self.touched.get(row.id, row.last_used_at))
        if cache:  # unknown hashes too: a new token bumps the generation
            _bounded(self.tokens)[digest] = entry
        return entry


def _bounded(entries: dict[Any, Any]) -> dict[Any, Any]:
    if len(entries) >= MAX_ENTRIES:
        entries.clear()
    return entries


def load_snapshot(session: Session, user_id: int) -> Snapshot | None:
    """The user's columns, roles with their grants and branches: three small statements."""
    table = User.__table__
    row = session.execute(select(table).where(table.c.id == user_id)).mappings().first()
    if row is None:
        return None
    grants: dict[int, set[str]] = {}
    roles: dict[int, Any] = {}
    for role in session.execute(
            select(Role.id, Role.name, Role.label, Role.superuser, Role.builtin,
                   RolePermission.permission)
            .join(user_roles, user_roles.c.role_id == Role.id)
            .outerjoin(RolePermission, RolePermission.role_id == Role.id)
            .where(user_roles.c.user_id == user_id)):
        roles[role.id] = role
        if role.permission is not None:
            grants.setdefault(role.id, set()).add(role.permission)
    role_infos = tuple(sorted(
        (RoleInfo(r.id, r.name, r.label, r.superuser, r.builtin,
                  frozenset(grants.get(r.id, ()))) for r in roles.values()),
        key=lambda r: r.name))
    branch_infos = tuple(BranchInfo(b.id, b.code, b.name, b.active) for b in session.execute(
        select(Branch.id, Branch.code, Branch.name, Branch.active)
        .join(user_branches, user_branches.c.branch_id == Branch.id)
        .where(user_branches.c.user_id == user_id).order_by(Branch.code)))
    fields = {k: v for k, v in row.items() if k not in PRIVATE}
    branch_ids = {b.id for b in branch_infos}
    if fields.get("default_branch_id"):
        branch_ids.add(fields["default_branch_id"])
    permissions: frozenset[str] = frozenset().union(*(r.permission_names for r in role_infos))
    fields.update(
        name=fields.get("display_name") or fields["username"], roles=role_infos,
        branches=branch_infos, branch_ids=frozenset(branch_ids), permission_names=permissions,
        is_superuser=any(r.superuser for r in role_infos))
    return Snapshot(fields)


def _cache() -> IdentityCache:
    cache = current_app.extensions.get(EXTENSION)
    if cache is None:
        cache = current_app.extensions[EXTENSION] = IdentityCache()
    return cache


def _generation() -> int | None:
    generations = current_app.extensions["carebiz"].host.generations
    return generations.value(SECURITY) if generations is not None else None


def for_user(user_id: int) -> Identity | None:
    """The active user with this id (a session's user), or None."""
    cache = _cache()
    use = cache.sync(_generation())
    snapshot = cache.user(db.session(), user_id, use)
    return Identity(snapshot) if snapshot is not None and snapshot.active else None


def for_token(secret: str) -> Identity | None:
    """The active user a usable token belongs to, or None; records (at most every few
    minutes per process) when the token was last used."""
    if not secret or not secret.startswith(tokens.PREFIX):
        return None
    cache = _cache()
    use = cache.sync(_generation())
    session = db.session()
    entry = cache.token(session, tokens.hash_token(secret), use)
    now = utcnow()
    if entry is None or entry.revoked or (entry.expires_at is not None
                                          and entry.expires_at <= now):
        return None
    snapshot = cache.user(session, entry.user_id, use)
    if snapshot is None or not snapshot.active:
        return None
    last = cache.touched.get(entry.token_id)
    if last is None or now - last > tokens.TOUCH_EVERY:
        engine = session.get_bind()
        token_id = entry.token_id
        db.after_session(lambda: tokens.touch(engine, token_id, now))
        _bounded(cache.touched)[entry.token_id] = now
    return Identity(snapshot)
