"""Prospects (潜在客户): register in one short form, review, edit, close as won or lost.

A prospect is a core customer in the ``prospect`` role plus what sales learnt about them
(:class:`~carebiz_plugins.sales.models.SalesProspect`). Registering looks the phone up
first, with the core's normalisation and duplicate match, so a caller who phoned last week
and walks in today stays one customer. Status changes go through :data:`PROSPECT_FLOW`
only: ``approve``/``reject`` (a manager's review, where the branch has it on), ``win``,
``lose`` (with a reason from the configured list) and ``reopen``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.concurrency import check_version, lock
from carebiz.crm import validation as crm_validation
from carebiz.crm.models import Party
from carebiz.crm.services.common import setting as crm_setting
from carebiz.crm.services.parties import create_party, find_duplicates, update_party
from carebiz.crm.timeline import add_entry
from carebiz.db import utcnow
from carebiz.errors import Conflict, Forbidden, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import Branch, User
from carebiz.security import can
from carebiz.security.rows import hidden_ids
from carebiz.services import settings
from carebiz.services.branches import default_branch_for, usable_branches
from carebiz.toolkit import host, record_id
from carebiz.toolkit.transitions import machine

from .. import signals
from ..models import SalesProspect, SalesProspectInterest, SalesProspectModel
from .choices import INDUSTRY_LIST, LOST_REASON_LIST, POINT_LIST, SOURCE_LIST
from .visits import cancel_open_visits

PENDING, CONSULTING, WON, LOST, REJECTED = (
    "pending_review", "consulting", "won", "lost", "rejected")
STATUSES = (PENDING, CONSULTING, WON, LOST, REJECTED)
OPEN_STATUSES = (PENDING, CONSULTING)

#: every status change a prospect can make: action → (from, to)
PROSPECT_FLOW = machine("prospect", {
    "approve": ({PENDING}, CONSULTING),
    "reject": ({PENDING}, REJECTED),
    "win": ({CONSULTING}, WON),
    "lose": ({CONSULTING}, LOST),
    "reopen": ({LOST}, CONSULTING),
})
REVIEW_ACTIONS = ("approve", "reject")
#: what the audit log says of each status change: a sentence per action, so the summary
#: holds no code (the changes, labelled through ``audit_labels``, show old → new)
ACTION_SUMMARIES = {
    "approve": N_("Prospect %(id)s approved"), "reject": N_("Prospect %(id)s rejected"),
    "win": N_("Prospect %(id)s won"), "lose": N_("Prospect %(id)s lost"),
    "reopen": N_("Prospect %(id)s reopened"),
}

MAX_MODELS = 10
FIELDS = ("source", "models_of_interest", "points_of_interest", "budget", "currency",
          "industry", "intended_purchase_on", "salesperson_id", "notes")


def review_required(session: Session, branch: Branch) -> bool:
    """Whether new prospects of ``branch`` wait for a manager (setting
    ``sales.review_branches``: branch codes, or ``*`` for all)."""
    raw = str(settings.get(session, host(), "sales.review_branches") or "")
    codes = {c.strip().upper() for c in raw.split(",") if c.strip()}
    return "*" in codes or branch.code.upper() in codes


def snapshot(prospect: SalesProspect) -> dict[str, Any]:
    """The prospect's fields as the audit log and version conflicts show them."""
    return {
        "customer_id": prospect.customer_id, "status": prospect.status,
        "salesperson_id": prospect.salesperson_id, "source": prospect.source,
        "industry": prospect.industry,
        "budget": None if prospect.budget is None else str(prospect.budget),
        "currency": prospect.currency,
        "intended_purchase_on": (prospect.intended_purchase_on.isoformat()
                                 if prospect.intended_purchase_on else None),
        "points_of_interest": prospect.points_of_interest,
        "models_of_interest": prospect.models_of_interest,
        "lost_reason": prospect.lost_reason, "notes": prospect.notes,
    }


# --- checking input -------------------------------------------------------------------------

def _clean(session: Session, data: dict[str, Any], user: Any, branch_id: int | None,
           errors: dict[str, str], creating: bool) -> dict[str, Any]:
    """Validate and normalise the prospect's own fields (all problems into ``errors``)."""
    out: dict[str, Any] = {}
    if creating or "source" in data:
        source = str(data.get("source") or "").strip()
        if source not in SOURCE_LIST.keys(session):
            errors["source"] = _("Choose one of: %(allowed)s.",
                                 allowed=", ".join(SOURCE_LIST.keys(session)))
        out["source"] = source
    if "points_of_interest" in data:
        points = list(dict.fromkeys(str(p).strip() for p in data["points_of_interest"] or []
                                    if str(p).strip()))
        unknown = [p for p in points if p not in POINT_LIST.keys(session)]
        if unknown:
            errors["points_of_interest"] = _(
                "Unknown: %(names)s (allowed: %(allowed)s).", names=", ".join(unknown),
                allowed=", ".join(POINT_LIST.keys(session)))
        out["points_of_interest"] = points
    if "models_of_interest" in data:
        names = list(dict.fromkeys(" ".join(str(m).split()) for m in
                                   data["models_of_interest"] or [] if str(m).strip()))
        if len(names) > MAX_MODELS or any(len(n) > 80 for n in names):
            errors["models_of_interest"] = _(
                "At most %(n)s models of at most 80 characters each.", n=MAX_MODELS)
        out["models_of_interest"] = names
    if "industry" in data:
        industry = str(data.get("industry") or "").strip()
        if industry and industry not in INDUSTRY_LIST.keys(session):
            errors["industry"] = _("Choose one of: %(allowed)s.",
                                   allowed=", ".join(INDUSTRY_LIST.keys(session)))
        out["industry"] = industry
    if "budget" in data:
        try:
            budget = None if data["budget"] in (None, "") else Decimal(str(data["budget"]))
            if budget is not None and not (0 <= budget < Decimal("1e12")):
                raise InvalidOperation
            out["budget"] = budget
        except (InvalidOperation, ValueError):
            errors["budget"] = _("An amount of 0 or more.")
    if "currency" in data or creating:
        currency = str(data.get("currency") or "CNY").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            errors["currency"] = _("A three-letter currency code (CNY, USD …).")
        out["currency"] = currency
    if "intended_purchase_on" in data:
        value = data["intended_purchase_on"]
        try:
            out["intended_purchase_on"] = (
                None if value in (None, "") else
                value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError:
            errors["intended_purchase_on"] = _("A date as YYYY-MM-DD.")
    if "salesperson_id" in data or creating:
        wanted = data.get("salesperson_id")
        if wanted in (None, "") and creating:
            wanted = getattr(user, "id", None)
        out["salesperson_id"] = check_salesperson(session, wanted, branch_id, errors)
    if "notes" in data:
        notes = str(data.get("notes") or "").strip()
        if len(notes) > 5000:
            errors["notes"] = _("At most %(max)s characters.", max=5000)
        out["notes"] = notes
    return out


def check_salesperson(session: Session, user_id: Any, branch_id: int | None,
                 errors: dict[str, str]) -> int | None:
    """An active user who works in the prospect's branch, or None (unassigned)."""
    if user_id in (None, ""):
        return None
    wanted = record_id(user_id)
    person = session.get(User, wanted) if wanted is not None else None
    if person is None or not person.active:
        errors["salesperson_id"] = _("No active user with this id.")
        return None
    if branch_id is not None and not (person.all_branches or person.is_superuser
                                      or branch_id in person.branch_ids):
        errors["salesperson_id"] = _("%(name)s does not work in this branch.",
                                     name=person.username)
        return None
    return person.id


def pick_branch(session: Session, user: Any, branch_id: Any,
                errors: dict[str, str]) -> Branch | None:
    """The explicit branch if the user may use it, else the core's default for them."""
    usable = {b.id: b for b in usable_branches(session, user)}
    if branch_id in (None, ""):
        branch = default_branch_for(session, user)
        if branch is None:
            errors["branch_id"] = _("Choose a branch.")
        return branch
    wanted = record_id(branch_id)
    branch = usable.get(wanted) if wanted is not None else None
    if branch is None:
        errors["branch_id"] = _("Choose a branch you work in.")
    return branch


def _phone(session: Session, raw: Any, errors: dict[str, str]) -> str | None:
    text = str(raw or "").strip()
    if not text:
        errors["phone"] = _("Give the phone number: it finds the customer next time.")
        return None
    try:
        return crm_validation.normalize_phone(text, crm_setting(session, "crm.phone_region"),
                                              field="phone")
    except ValidationFailed as exc:
        errors["phone"] = str(exc.errors.get("phone") or exc.message)
        return None


# --- registering ----------------------------------------------------------------------------

def find_customer_by_phone(session: Session, e164: str, user: Any) -> tuple[Party | None, bool]:
    """The active customer with this (normalised) phone and whether ``user`` may see them.

    Several matches (an old duplicate) give the oldest visible one."""
    matches = sorted(find_duplicates(session, phones=[e164]), key=lambda d: d.party_id)
    if not matches:
        return None, True
    hidden = hidden_ids(session, Party, user, {d.party_id for d in matches}, host()) \
        if user is not None else set()
    for match in matches:
        if match.party_id not in hidden:
            return session.get(Party, match.party_id), True
    return None, False


def register_prospect(session: Session, data: dict[str, Any], *, user: Any) -> tuple[
        SalesProspect, bool]:
    """Register a prospect from the showroom floor or a call; answers it and whether a new
    customer was created.

    ``data`` holds ``name``, ``phone``, ``source`` and optionally ``models_of_interest``,
    ``points_of_interest``, ``budget``, ``currency``, ``industry``,
    ``intended_purchase_on``, ``salesperson_id`` (default: who registers), ``branch_id``
    (default: the core's default branch of the user) and ``notes``. Every broken rule is
    reported at once, by field.

    The phone is normalised like every customer phone and looked up: an existing customer
    is used (and given the ``prospect`` role) instead of registering a second one. A
    customer of a branch the user does not see is a 409 that names nobody; a customer who
    already has an open prospect is a 409 pointing at it (follow that one up instead)."""
    errors: dict[str, str] = {}
    unknown = set(data) - {"name", "phone", "branch_id", *FIELDS}
    errors.update({f: _("Unknown field.") for f in sorted(unknown)})
    name = " ".join(str(data.get("name") or "").split())
    e164 = _phone(session, data.get("phone"), errors)
    branch = pick_branch(session, user, data.get("branch_id"), errors)
    values = _clean(session, data, user, branch.id if branch else None, errors, creating=True)
    customer, seen = (find_customer_by_phone(session, e164, user) if e164 else (None, True))
    if customer is None and not name:
        errors["name"] = _("Give the prospect's name.")
    if errors:
        raise ValidationFailed(_("The prospect was not registered: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    assert branch is not None
    if not seen:
        raise Conflict(_("This phone number belongs to a customer of another branch. Ask "
                         "that branch to pass the customer on, or check the number."),
                       {"phone": _("Registered for a customer of another branch.")})
    created = customer is None
    if customer is None:
        customer = create_party(session, {"name": name, "phones": [e164],
                                          "roles": ["prospect"], "branch_id": branch.id,
                                          "source": values["source"]},
                                user=user, allow_duplicates=True)
    else:
        _open_prospect_refused(session, customer)
        if "prospect" not in customer.roles:
            update_party(session, customer, {"roles": [*customer.roles, "prospect"]},
                         user=user, allow_duplicates=True)
    status = PENDING if review_required(session, branch) else CONSULTING
    prospect = SalesProspect(
        customer_id=customer.id, branch_id=branch.id, status=status,
        source=values["source"], salesperson_id=values["salesperson_id"],
        industry=values.get("industry", ""), budget=values.get("budget"),
        currency=values["currency"], intended_purchase_on=values.get("intended_purchase_on"),
        notes=values.get("notes", ""), registered_at=utcnow(),
        created_by=getattr(user, "id", None))
    _set_children(prospect, values)
    session.add(prospect)
    session.flush()
    add_entry(session, party_id=customer.id, kind="sales.prospect", user=user,
              subject=_("Registered as a prospect (%(source)s)",
                        source=SOURCE_LIST.label(prospect.source)),
              ref_type="sales_prospect", ref_id=prospect.id)
    emit(session, signals.prospect_registered, prospect_id=prospect.id,
         customer_id=customer.id, branch_id=branch.id, salesperson_id=prospect.salesperson_id,
         source=prospect.source, new_customer=created,
         audit=Audit("sales_prospect", prospect.id, N_("Prospect %(id)s registered"),
                     None, snapshot(prospect), args={"id": prospect.id},
                     branch_id=branch.id, version=prospect.version))
    return prospect, created


def _open_prospect_refused(session: Session, customer: Party) -> None:
    """A customer has one open prospect at a time: follow that one up."""
    open_id = session.scalar(select(SalesProspect.id).where(
        SalesProspect.customer_id == customer.id,
        SalesProspect.status.in_(OPEN_STATUSES)).limit(1))
    if open_id is not None:
        raise Conflict(
            _("%(name)s is already an open prospect (no. %(id)s): follow that one up.",
              name=customer.name, id=open_id),
            {"phone": _("An open prospect has this phone.")},
            {"prospect_id": open_id, "customer_id": customer.id})


def _set_children(prospect: SalesProspect, values: dict[str, Any]) -> None:
    """Replace the prospect's point and model rows (they carry its branch for row filters)."""
    if "points_of_interest" in values:
        prospect.interests = [SalesProspectInterest(point=p, branch_id=prospect.branch_id)
                              for p in values["points_of_interest"]]
    if "models_of_interest" in values:
        prospect.model_rows = [SalesProspectModel(model=m, branch_id=prospect.branch_id)
                               for m in values["models_of_interest"]]


# --- editing and closing ----------------------------------------------------------------------

def update_prospect(session: Session, prospect: SalesProspect, data: dict[str, Any], *,
                    user: Any, expected_version: Any = None) -> SalesProspect:
    """Change what was learnt about a prospect. ``expected_version`` is the version the
    client saw: another one means someone changed it meanwhile (409 naming what)."""
    check_version(session, prospect, expected_version, entity_type="sales_prospect",
                  current=snapshot(prospect))
    errors: dict[str, str] = {}
    unknown = set(data) - set(FIELDS)
    errors.update({f: _("Unknown field.") for f in sorted(unknown)})
    values = _clean(session, data, user, prospect.branch_id, errors, creating=False)
    if errors:
        raise ValidationFailed(_("The prospect was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    before = snapshot(prospect)
    for key, value in values.items():
        if key not in ("points_of_interest", "models_of_interest"):
            setattr(prospect, key, value)
    _set_children(prospect, values)
    session.flush()
    after = snapshot(prospect)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if changed:
        emit(session, signals.prospect_updated, prospect_id=prospect.id,
             customer_id=prospect.customer_id, changes=changed, audit=Audit(
            "sales_prospect", prospect.id, N_("Prospect %(id)s changed"),
            {k: before[k] for k in changed}, changed, args={"id": prospect.id},
            branch_id=prospect.branch_id, version=prospect.version))
    return prospect


def transition(session: Session, prospect: SalesProspect, action: str, *, user: Any,
               lost_reason: str | None = None, expected_version: Any = None) -> SalesProspect:
    """Move a prospect by ``action`` (see :data:`PROSPECT_FLOW`), re-checked under a lock so
    two salespeople closing the same prospect at once cannot both succeed.

    ``approve``/``reject`` need the ``sales.review`` permission; ``lose`` needs a reason
    from the ``sales.lost_reasons`` list (422 without one)."""
    if action in REVIEW_ACTIONS and user is not None and not can(user, "sales.review"):
        raise Forbidden(_("Only a manager reviews new prospects."))
    check_version(session, prospect, expected_version, entity_type="sales_prospect",
                  current=snapshot(prospect))
    prospect = lock(session, SalesProspect, [prospect.id])[prospect.id]
    target = PROSPECT_FLOW.target(prospect.status, action)
    reason = str(lost_reason or "").strip()
    if action == "lose" and reason not in LOST_REASON_LIST.keys(session):
        message = (_("Say why the prospect was lost.") if not reason else
                   _("Choose one of: %(allowed)s.",
                     allowed=", ".join(LOST_REASON_LIST.keys(session))))
        raise ValidationFailed(message, {"lost_reason": message})
    old = prospect.status
    now = utcnow()
    prospect.status = target
    prospect.lost_reason = reason if target == LOST else ""
    if target in (WON, LOST):
        prospect.closed_at = now
    elif action == "reopen":
        prospect.closed_at = None
    if action in REVIEW_ACTIONS:
        prospect.reviewed_by, prospect.reviewed_at = getattr(user, "id", None), now
    session.flush()
    if target in (WON, LOST, REJECTED):
        cancel_open_visits(session, prospect, user)
    if target in (WON, LOST):
        subject = (_("Prospect won") if target == WON else
                   _("Prospect lost: %(reason)s", reason=LOST_REASON_LIST.label(reason)))
        add_entry(session, party_id=prospect.customer_id, kind="sales.prospect_closed",
                  user=user, subject=subject, ref_type="sales_prospect", ref_id=prospect.id)
    emit(session, signals.prospect_status_changed, prospect_id=prospect.id,
         customer_id=prospect.customer_id, branch_id=prospect.branch_id, old_status=old,
         new_status=target, action=action, lost_reason=prospect.lost_reason,
         audit=Audit("sales_prospect", prospect.id, ACTION_SUMMARIES.get(
                         action, N_("Prospect %(id)s: status changed")),
                     {"status": old}, {"status": target, "lost_reason": prospect.lost_reason},
                     args={"id": prospect.id, "action": action},
                     branch_id=prospect.branch_id, version=prospect.version))
    return prospect


def close_prospect(session: Session, prospect: SalesProspect, *, outcome: Any,
                   lost_reason: Any = None, user: Any,
                   expected_version: Any = None) -> SalesProspect:
    """Close as ``won`` (a sale) or ``lost`` (with a reason): the API's ``/close``."""
    action = {"won": "win", "lost": "lose"}.get(str(outcome or ""))
    if action is None:
        raise ValidationFailed(_("Say whether the prospect was won or lost."),
                               {"outcome": _("One of: won, lost.")})
    return transition(session, prospect, action, user=user, lost_reason=lost_reason,
                      expected_version=expected_version)


def win_on_order(session: Session, customer_id: int, branch_id: int, *,
                 user: Any) -> list[SalesProspect]:
    """The customer booked a car: their prospects being consulted in the order's branch are
    won (成交 is the booking, not the hand-over), each through :func:`transition` (audit,
    timeline, signal). A prospect still waiting for review stays as it is."""
    ids = session.scalars(select(SalesProspect.id).where(
        SalesProspect.customer_id == customer_id, SalesProspect.branch_id == branch_id,
        SalesProspect.status == CONSULTING).order_by(SalesProspect.id)).all()
    return [transition(session, session.get(SalesProspect, pid), "win", user=user)
            for pid in ids]
