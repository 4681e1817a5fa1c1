"""User accounts: creation, profile, roles, branches, passwords, authentication."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from carebiz.db import utcnow
from carebiz.errors import Conflict, NotFound, ValidationFailed
from carebiz.events import Audit, diff, emit
from carebiz.i18n import N_
from carebiz.models import Branch, Role, User
from carebiz.security import passwords, sessions
from carebiz.services.roles import get_role
from carebiz.signals import core as signals

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH
LOCALES = ("en", "zh_CN")


#: scrypt via Werkzeug: memory-hard, salted, with its parameters in the hash. The test suite
#: lowers it to a cheap method for speed; production code never changes it.
PASSWORD_METHOD = "scrypt"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD)


def check_password_rules(password: str, username: str = "") -> None:
    """Refuse a password that breaks :mod:`carebiz.security.passwords`' rules; every way of
    setting a password (pages, API, CLI, own change) comes through here."""
    message = passwords.problem(password, username)
    if message is not None:
        raise ValidationFailed(message, {"password": message})


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise NotFound(_("No user named '%(name)s'.", name=username))
    return user


def _branches(session: Session, codes: Iterable[str]) -> list[Branch]:
    branches = []
    for code in codes:
        branch = session.scalar(select(Branch).where(Branch.code == code))
        if branch is None:
            raise ValidationFailed(_("No branch with code '%(code)s'.", code=code),
                                   {"branches": _("Unknown branch '%(code)s'.", code=code)})
        branches.append(branch)
    return branches


def create_user(session: Session, username: str, password: str, *, roles: Iterable[str] = (),
                branches: Iterable[str] = (), display_name: str = "", email: str = "",
                all_branches: bool = False, locale: str | None = None,
                phone: str = "") -> User:
    username = (username or "").strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise ValidationFailed(_("Invalid user name."), {
            "username": _("Required, at most 80 characters, no spaces.")})
    if session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise Conflict(_("User '%(name)s' already exists.", name=username),
                       {"username": _("Already taken.")})
    check_password_rules(password, username)
    if locale is not None and locale not in LOCALES:
        raise ValidationFailed(_("Unknown language."),
                               {"locale": _("One of: %(allowed)s.", allowed=", ".join(LOCALES))})
    phone = _phone(session, phone)
    role_objs: list[Role] = [get_role(session, r) for r in roles]
    branch_objs = _branches(session, branches)
    user = User(username=username, password_hash=hash_password(password),
                display_name=display_name, email=email, all_branches=all_branches,
                locale=locale, phone=phone, roles=role_objs, branches=branch_objs,
                default_branch_id=branch_objs[0].id if branch_objs else None)
    session.add(user)
    session.flush()
    emit(session, signals.user_created, user_id=user.id, username=user.username,
         audit=Audit("user", user.id, N_("User %(name)s created"), None, _snapshot(user),
                     args={"name": user.username}))
    return user


def _phone(session: Session, raw: str | None) -> str:
    """A user's mobile number in E.164 (read in the business's phone region), or "" for
    none; the inbound gateway knows a sender by it."""
    text = (raw or "").strip()
    if not text:
        return ""
    from carebiz.crm.validation import normalize_phone
    from carebiz.services.settings import get as setting

    host = session.info.get("carebiz.host")
    region = str(setting(session, host, "crm.phone_region")) if host is not None else "CN"
    return normalize_phone(text, region, field="phone")


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "phone": user.phone,
        "active": user.active,
        "all_branches": user.all_branches,
        "locale": user.locale,
        "roles": sorted(r.name for r in user.roles),
        "branches": sorted(b.code for b in user.branches),
    }


def update_user(session: Session, user: User, **changes: Any) -> User:
    """Change profile fields, ``roles`` (names), ``branches`` (codes) or ``password``.

    A new password or deactivation ends all of the user's sessions (whoever makes the change:
    a stolen session must not survive it); the page that changed one's own password renews
    its own session with :func:`carebiz.security.sessions.renew_current`."""
    before = _snapshot(user)
    password = changes.pop("password", None)
    if password:
        check_password_rules(password, user.username)
        user.password_hash = hash_password(password)
        sessions.end_all(user)
    if before["active"] and changes.get("active") is False:
        sessions.end_all(user)
    if "roles" in changes:
        user.roles = [get_role(session, r) for r in changes.pop("roles")]
    if "branches" in changes:
        user.branches = _branches(session, changes.pop("branches"))
        if user.default_branch_id not in {b.id for b in user.branches}:
            user.default_branch_id = user.branches[0].id if user.branches else None
    if changes.get("locale") not in (None, *LOCALES):
        raise ValidationFailed(_("Unknown language."),
                               {"locale": _("One of: %(allowed)s.", allowed=", ".join(LOCALES))})
    if "phone" in changes:
        changes["phone"] = _phone(session, changes["phone"])
    for field in ("display_name", "email", "phone", "active", "all_branches", "locale"):
        if field in changes:
            setattr(user, field, changes.pop(field))
    if changes:
        raise ValidationFailed(_("Unknown fields: %(names)s", names=", ".join(sorted(changes))))
    session.flush()
    _keep_an_administrator(session)
    after = _snapshot(user)
    if after != before or password:
        old, new = diff(before, after)
        if password:
            new["password"] = "***"  # never the value, not even its hash
        emit(session, signals.user_updated, user_id=user.id, changes=new,
             audit=Audit("user", user.id, N_("User %(name)s changed"), old, new,
                         args={"name": user.username}))
    return user


def _keep_an_administrator(session: Session) -> None:
    """Refuse a change that leaves no active user with a superuser role: nobody could
    administer the system any more."""
    count = session.scalar(
        select(func.count(User.id.distinct())).join(User.roles)
        .where(User.active.is_(True), Role.superuser.is_(True)))
    had_any = session.scalar(select(func.count(Role.id)).where(Role.superuser.is_(True)))
    if had_any and not count:
        raise Conflict(_("This change would leave no active administrator."),
                       {"active": _("Keep at least one active administrator."),
                        "roles": _("Keep at least one active administrator.")})


def change_own_password(session: Session, user: User, current: str, new: str) -> User:
    """A user changing their own password must know the current one (a session left open
    on a shared desk is not enough)."""
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        raise ValidationFailed(_("The current password is wrong."),
                               {"current_password": _("Wrong password.")})
    if current == new:
        message = _("The new password must differ from the current one.")
        raise ValidationFailed(message, {"password": message})
    return update_user(session, user, password=new)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("timing-equaliser")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (the same answer for unknown users and
    wrong passwords, so user names cannot be probed)."""
    user = session.scalar(select(User).where(func.lower(User.username) == (username or "").lower()))
    if user is None or not user.active or not user.password_hash:
        check_password_hash(_dummy_hash(), password or "")  # same work as a real check
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    return user
