"""First run: the business's name, its first branch and the first administrator.

A fresh ``carebiz db upgrade`` has no user, so nobody could log in. Both ``carebiz setup``
and the first-run page (``/setup``) call :func:`set_up`, which works exactly once: as soon as
any user exists (made here, by ``carebiz users create`` or by demo data) the install counts as
set up and :class:`AlreadySetUp` is raised.

Two people submitting the first-run page at the same moment must not both become the first
administrator. Both transactions first insert the same marker row (primary key
:data:`SETUP_KEY` in ``setting_value``): the database lets only one of them hold it — the
other waits on the key (PostgreSQL) or on the write lock (SQLite) and then fails on the
duplicate key once the first commits — so the loser gets :class:`AlreadySetUp` and changes
nothing.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from carebiz.db import utcnow
from carebiz.errors import Conflict, ServiceError, ValidationFailed
from carebiz.models import Branch, SettingValue, User
from carebiz.services import settings as settings_service
from carebiz.services.branches import FIRST_BRANCH_CODE, save_branch
from carebiz.services.roles import sync_roles
from carebiz.services.users import check_password_rules, create_user

#: the marker row written by the one successful set-up (who and when); not a setting
SETUP_KEY = "core.setup_completed"
DEFAULT_BRANCH_CODE = FIRST_BRANCH_CODE
DEFAULT_CURRENCY = "CNY"


class AlreadySetUp(Conflict):
    """Users exist already: set-up is over (add users on the Users page or the CLI)."""

    code = "already_set_up"


def is_set_up(session: Session) -> bool:
    """True once any user exists: from then on nobody may claim the first admin account."""
    return session.scalar(select(User.id).limit(1)) is not None


def _already() -> AlreadySetUp:
    return AlreadySetUp(_("CareBusiness is set up already; log in, or ask an administrator "
                          "for an account."))


def _claim(session: Session, username: str) -> None:
    """Take the set-up marker, or raise :class:`AlreadySetUp` (see the module docstring)."""
    if is_set_up(session):
        raise _already()
    try:
        session.add(SettingValue(key=SETUP_KEY, updated_by=username[:80],
                                 value={"admin": username, "at": utcnow().isoformat()}))
        session.flush()
    except DBAPIError:  # the other set-up holds or has committed the marker
        session.rollback()
        raise _already() from None
    if is_set_up(session):  # a user was created (``users create``) while we waited
        raise _already()


def set_up(session: Session, host: Any, *, business_name: str, branch_code: str,
           branch_name: str, username: str, password: str, currency: str | None = None,
           display_name: str = "", email: str = "", locale: str | None = None) -> User:
    """Name the business, create (or adopt, by code) its first branch and the first
    administrator, who sees every branch and has the first one as default. Every field error
    is reported at once (``ValidationFailed``); the caller commits."""
    from carebiz.currency.codes import check_code

    errors: dict[str, str] = {}
    business_name = (business_name or "").strip()
    if not business_name or len(business_name) > 200:
        errors["business_name"] = _("Required, at most 200 characters.")
    if currency:
        try:
            currency = check_code(currency)
        except ValidationFailed as exc:
            errors["currency"] = exc.message

    _claim(session, (username or "").strip())
    sync_roles(session, host.collect("permissions"))
    branch = None
    try:
        code = (branch_code or "").strip().upper()
        existing = session.scalar(select(Branch).where(Branch.code == code)) if code else None
        branch = save_branch(session, existing, code=code, name=branch_name, active=True)
    except ServiceError as exc:
        errors.update({f"branch_{k}": v for k, v in exc.errors.items()} or
                      {"branch_code": exc.message})
    try:  # create_user stops at the user name; say everything at once
        check_password_rules(password)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    user = None
    try:
        user = create_user(session, username, password, roles=["admin"],
                           branches=[branch.code] if branch else [], all_branches=True,
                           display_name=(display_name or "").strip(),
                           email=(email or "").strip(), locale=locale)
    except ServiceError as exc:
        errors.update(exc.errors or {"username": exc.message})
    if errors or user is None:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    settings_service.set_value(session, host, "core.company_name", business_name,
                               actor=user.username)
    if currency:
        settings_service.set_value(session, host, "core.base_currency", currency,
                                   actor=user.username)
    return user
