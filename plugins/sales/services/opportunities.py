"""Opportunities (商机) and the pipeline they move through.

An opportunity is one car a customer may buy: the model, what it is worth (a Decimal in
its currency), when it should close, who sells it, in which branch. It sits in a stage of
its pipeline; the pipeline is configurable per branch and per make, because a BYD store
and a Toyota store of the same group run different processes. The most specific stage set
wins (branch + brand, branch, brand, company-wide) and without any the built-in stages
(初次接触 → 需求分析 → 试驾 → 报价 → 谈判 → 成交 / 战败) apply.

Moves are transitions of a :class:`~carebiz.toolkit.transitions.Machine` built from the
pipeline: from any open stage to any other stage; the won and lost stages are terminal and
lost needs a reason from ``sales.lost_reasons``. Each move is re-checked under a lock,
audited, written on the customer's timeline, and winning or losing sends
``sales.opportunity.won`` / ``sales.opportunity.lost`` after the commit.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from carebiz.concurrency import VersionConflict, begin_write, check_version, lock
from carebiz.crm.models import Party
from carebiz.crm.timeline import add_entry
from carebiz.currency.money import Money, quantize
from carebiz.currency.rates import MissingRate, base_currency, convert
from carebiz.db import utcnow
from carebiz.errors import ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import Branch
from carebiz.security.rows import visible
from carebiz.toolkit import record_id
from carebiz.toolkit import today as business_today
from carebiz.toolkit.transitions import Machine, machine

from .. import signals
from ..models import SalesOpportunity, SalesPipelineStage, SalesProspect
from . import stage_names as names
from .choices import LOST_REASON_LIST
from .money import amount, currency_code
from .prospects import check_salesperson, pick_branch
from .stock import visible_row

OPEN, WON, LOST = "open", "won", "lost"
KINDS = (OPEN, WON, LOST)
#: with a context: the catalogs' plain "Open" and "Lost" are a task's and a customer's
#: (待处理, 已流失客户), not what an opportunity is
STATUS_LABELS = {OPEN: _lp("opportunity status", "Open"),
                 WON: _lp("opportunity status", "Won"),
                 LOST: _lp("opportunity status", "Lost")}


@dataclass(frozen=True)
class Stage:
    """A stage as the rules, pages and API read it: ``label`` in the reader's language
    (see :mod:`.stage_names`), ``label_en``/``label_zh`` the names saved per language
    (empty: not given; the built-in stages have none saved)."""

    code: str
    label: str
    probability: int
    kind: str = OPEN
    label_en: str = ""
    label_zh: str = ""

    @property
    def labels(self) -> dict[str, str]:
        """The saved names by language code (``en``, ``zh_Hans``), as the API writes them."""
        return {names.EN: self.label_en, names.ZH: self.label_zh}


#: built-in stages: code → (label, default probability, kind)
DEFAULT_STAGES: dict[str, tuple[Any, int, str]] = {
    "first_contact": (_l("First contact"), 10, OPEN),
    "needs_analysis": (_l("Needs analysis"), 20, OPEN),
    "test_drive": (_l("Test drive"), 40, OPEN),
    "quotation": (_l("Quotation"), 60, OPEN),
    "negotiation": (_l("Negotiation"), 80, OPEN),
    "won": (_l("Won"), 100, WON),
    "lost": (_lp("pipeline stage", "Lost"), 0, LOST),
}

FIELDS = ("customer_id", "prospect_id", "title", "brand", "model", "expected_value",
          "currency", "expected_close_on", "salesperson_id", "probability", "notes",
          "branch_id", "stage")
EDITABLE = ("title", "brand", "model", "expected_value", "currency", "expected_close_on",
            "salesperson_id", "probability", "notes")


# --- pipelines ------------------------------------------------------------------------------

def _stage_of(row: SalesPipelineStage) -> Stage:
    """A saved stage as read now: its name in the reader's language, else the other one,
    else (a built-in code) the built-in name in the reader's language, else its code."""
    builtin = DEFAULT_STAGES[row.code][0] if row.code in DEFAULT_STAGES else None
    label = names.pick({names.EN: row.label, names.ZH: row.label_zh}, builtin, row.code)
    return Stage(row.code, label, row.probability, row.kind, row.label, row.label_zh)


def stages_for(session: Session, branch_id: int | None, brand: str = "") -> list[Stage]:
    """The pipeline an opportunity of ``branch_id`` and ``brand`` runs through, in order."""
    brand = (brand or "").strip()
    rows = session.scalars(select(SalesPipelineStage).where(
        or_(SalesPipelineStage.branch_id == branch_id, SalesPipelineStage.branch_id.is_(None)),
        func.lower(SalesPipelineStage.brand).in_({brand.lower(), ""}))
        .order_by(SalesPipelineStage.position, SalesPipelineStage.id)).all()
    scopes: dict[tuple[bool, bool], list[SalesPipelineStage]] = defaultdict(list)
    for row in rows:
        scopes[(row.branch_id is not None, row.brand != "")].append(row)
    for scope in ((True, True), (True, False), (False, True), (False, False)):
        if scopes.get(scope):
            return [_stage_of(r) for r in scopes[scope]]
    return [Stage(code, str(label), p, kind) for code, (label, p, kind)
            in DEFAULT_STAGES.items()]


def stage_choices(session: Session) -> list[tuple[str, str]]:
    """Every stage code any pipeline has, with what it reads as to the current reader:
    the built-in codes first, then the configured ones. For a code that several sets name
    differently the broadest set's name is taken (the company's before a make's before a
    branch's): the query service labels a value without knowing its row's pipeline."""
    rows = session.scalars(select(SalesPipelineStage).order_by(
        SalesPipelineStage.branch_id.is_not(None), SalesPipelineStage.brand != "",
        SalesPipelineStage.branch_id, SalesPipelineStage.brand,
        SalesPipelineStage.position, SalesPipelineStage.id)).all()
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(row.code, _stage_of(row).label)
    builtin = [(code, found.pop(code, str(label)))
               for code, (label, _p, _k) in DEFAULT_STAGES.items()]
    return [*builtin, *found.items()]


def pipelines_of(session: Session, opportunities: Any) -> dict[int, list[Stage]]:
    """Each opportunity's pipeline by its id, read once per branch and make (a list page
    of fifty cards of two stores costs two reads, not fifty)."""
    by_scope: dict[tuple[int | None, str], list[Stage]] = {}
    out: dict[int, list[Stage]] = {}
    for opp in opportunities:
        scope = (opp.branch_id, (opp.brand or "").strip().lower())
        if scope not in by_scope:
            by_scope[scope] = stages_for(session, opp.branch_id, opp.brand)
        out[opp.id] = by_scope[scope]
    return out


def stage_label(stages: list[Stage], code: str) -> str:
    """What a stage code reads as in its pipeline (the code itself once dropped from it)."""
    return next((s.label for s in stages if s.code == code), code)


def flow(stages: list[Stage], stranded: str | None = None) -> Machine:
    """The pipeline's transitions: the action is the stage to move to, possible from every
    open stage but itself. Won and lost are terminal (no action starts there).

    ``stranded``: the stage an open opportunity stands in; when its pipeline has dropped
    that stage since, the opportunity may move from there to any stage of the pipeline
    (else it could never move again)."""
    open_codes = {s.code for s in stages if s.kind == OPEN}
    if stranded and all(s.code != stranded for s in stages):
        open_codes.add(stranded)
    return machine(str(_("opportunity")),
                   {s.code: (open_codes - {s.code}, s.code) for s in stages},
                   labels={s.code: s.label for s in stages})


def flow_of(stages: list[Stage], opp: SalesOpportunity) -> Machine:
    """The transitions open to ``opp`` in its pipeline ``stages`` (see :func:`flow`)."""
    return flow(stages, opp.stage if opp.status == OPEN else None)


def _stage(stages: list[Stage], code: str) -> Stage | None:
    return next((s for s in stages if s.code == code), None)


def own_stages(session: Session, branch_id: int | None,
               brand: str) -> list[SalesPipelineStage]:
    """The stage set saved for exactly this scope (empty: it inherits a broader one)."""
    scope = [SalesPipelineStage.brand == (brand or "").strip(),
             SalesPipelineStage.branch_id.is_(None) if branch_id is None
             else SalesPipelineStage.branch_id == branch_id]
    return list(session.scalars(select(SalesPipelineStage).where(*scope).order_by(
        SalesPipelineStage.position, SalesPipelineStage.id)))


def stages_version(session: Session, branch_id: int | None, brand: str) -> int:
    """The version of one scope's stage set, for the setup form: a checksum of what is
    saved (a set is replaced whole, so it has no row to carry a counter); another
    manager's save changes it, saving the same set again does not."""
    return _version_of(own_stages(session, branch_id, brand))


def _version_of(rows: list[SalesPipelineStage]) -> int:
    text = repr([(r.code, r.label, r.label_zh, r.probability, r.kind) for r in rows])
    return zlib.crc32(text.encode("utf-8")) % 2_000_000_000 + 1


def _names(raw: dict[str, Any], code: str, saved: dict[str, tuple[str, str]],
           errors: dict[str, str], key: str) -> tuple[str, str]:
    """A stage's (English, Chinese) names as given: ``labels`` by language wins; a client
    that only sends the one ``label`` (written before stages had two) gets it put by its
    script, and sending back a name the stage already has (or a built-in code's built-in
    name) keeps both names as saved, so such a client's save erases no translation."""
    given = raw.get("labels")
    if given is not None:
        unknown = set(given) - set(names.LANGUAGES) if isinstance(given, dict) else {""}
        if unknown:
            errors[f"{key}.labels"] = _("Names by language: %(allowed)s.",
                                        allowed=", ".join(names.LANGUAGES))
            return "", ""
        return names.clean(given.get(names.EN)), names.clean(given.get(names.ZH))
    label = names.clean(raw.get("label"))
    if not label:
        return "", ""
    if code in saved and label in saved[code]:
        return saved[code]
    if code in DEFAULT_STAGES and label in names.in_each_language(
            DEFAULT_STAGES[code][0]).values():
        return "", ""
    return (label, "") if names.language_of(label) == names.EN else ("", label)


def _audited(rows: list[SalesPipelineStage]) -> dict[str, Any]:
    """A stage set as the audit log keeps it: codes with probability and kind, and the
    names per code (English, Chinese), so a renamed stage shows in the history."""
    return {"stages": [[r.code, r.probability, r.kind] for r in rows],
            "labels": {r.code: [r.label, r.label_zh] for r in rows}}


def set_stages(session: Session, branch_id: int | None, brand: str,
               stages: list[dict[str, Any]], *, user: Any,
               expected_version: int | list[int] | None = None) -> list[Stage]:
    """Replace the stage set of one scope (``branch_id`` None: every branch; ``brand``
    empty: every make). An empty list removes the set, so the next broader one applies.

    Each stage gives ``code``, its names (``labels``: ``{"en", "zh_Hans"}``, or one
    ``label``, see :func:`_names`), ``probability`` (0–100) and ``kind``; a set has
    exactly one ``won`` and one ``lost`` stage and at least one open one. With
    ``expected_version`` (:func:`stages_version` as the editor read it, or several, as an
    ``If-Match`` lists them) a set changed meanwhile is a
    :class:`~carebiz.concurrency.VersionConflict`; the saved rows (for a branch's first
    set, the branch) are locked first, so of two saves from the same version the second
    is refused, not lost. Opportunities
    standing in a stage the new set drops keep their code until they are moved."""
    brand = (brand or "").strip()
    own = own_stages(session, branch_id, brand)
    if own:
        lock(session, SalesPipelineStage, [r.id for r in own])
    elif branch_id is not None:  # a branch's first set: two first saves wait for each other
        lock(session, Branch, [branch_id])
    elif session.get_bind().dialect.name == "postgresql":
        # the company's first set of a make has no row to lock: a lock on its scope's name,
        # held to the end of the transaction, makes two first saves wait for each other
        # (SQLite: begin_write below takes the database's one write lock)
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:scope))"),
                        {"scope": f"sales.pipeline_stages:{brand}"})
    begin_write(session)
    own = own_stages(session, branch_id, brand)
    if expected_version is not None:
        current = _version_of(own)
        wanted = ({expected_version} if isinstance(expected_version, int)
                  else set(expected_version))
        if current not in wanted:
            message = _("Someone else changed these stages while you were editing them. What "
                        "you typed is kept; save again to replace their stages with yours.")
            raise VersionConflict(message, {"stages": message},
                                  {"current_version": current, "changed": ["stages"],
                                   "changed_by": []})
    saved = {r.code: (r.label, r.label_zh) for r in own}
    before = _audited(own) if own else None
    errors: dict[str, str] = {}
    seen: set[str] = set()
    cleaned: list[SalesPipelineStage] = []
    for i, raw in enumerate(stages):
        code = str(raw.get("code") or "").strip().lower()
        kind = str(raw.get("kind") or OPEN)
        label_en, label_zh = _names(raw, code, saved, errors, f"stages[{i}]")
        try:
            probability = int(raw.get("probability", DEFAULT_STAGES.get(code, ("", 0))[1]))
        except (TypeError, ValueError):
            probability = -1
        if not code or len(code) > 32 or not code.replace("_", "").isalnum() or code in seen:
            errors[f"stages[{i}].code"] = _("A unique code of letters, digits and _.")
        if kind not in KINDS:
            errors[f"stages[{i}].kind"] = _("One of: %(allowed)s.", allowed=", ".join(KINDS))
        if not 0 <= probability <= 100:
            errors[f"stages[{i}].probability"] = _("A percentage from 0 to 100.")
        seen.add(code)
        cleaned.append(SalesPipelineStage(branch_id=branch_id, brand=brand, code=code,
                                          label=label_en, label_zh=label_zh, position=i,
                                          probability=probability, kind=kind))
    kinds = [s.kind for s in cleaned]
    if cleaned and (kinds.count(WON) != 1 or kinds.count(LOST) != 1 or OPEN not in kinds):
        errors["stages"] = _("A pipeline has open stages, one won stage and one lost stage.")
    if branch_id is not None and session.get(Branch, branch_id) is None:
        errors["branch_id"] = _("No branch with this id.")
    if errors:
        raise ValidationFailed(_("The pipeline was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    scope = [SalesPipelineStage.brand == brand,
             SalesPipelineStage.branch_id.is_(None) if branch_id is None
             else SalesPipelineStage.branch_id == branch_id]
    session.execute(delete(SalesPipelineStage).where(*scope))
    session.add_all(cleaned)
    session.flush()
    emit(session, signals.pipeline_changed, branch_id=branch_id, brand=brand,
         stages=[s.code for s in cleaned],
         audit=Audit("sales_pipeline_stage", branch_id or 0,
                     N_("Pipeline stages of %(brand)s changed"),
                     before, _audited(cleaned),
                     args={"brand": brand or "*"}, branch_id=branch_id))
    return stages_for(session, branch_id, brand)


# --- the record -------------------------------------------------------------------------------

def snapshot(opp: SalesOpportunity) -> dict[str, Any]:
    """The fields as the audit log and version conflicts show them."""
    return {
        "customer_id": opp.customer_id, "prospect_id": opp.prospect_id, "title": opp.title,
        "brand": opp.brand, "model": opp.model, "expected_value": str(opp.expected_value),
        "currency": opp.currency,
        "expected_close_on": (opp.expected_close_on.isoformat()
                              if opp.expected_close_on else None),
        "salesperson_id": opp.salesperson_id, "stage": opp.stage, "status": opp.status,
        "probability": opp.probability, "lost_reason": opp.lost_reason, "notes": opp.notes,
    }


def _weigh(opp: SalesOpportunity) -> None:
    opp.weighted_value = (Decimal(opp.expected_value or 0) * opp.probability
                          / Decimal(100)).quantize(Decimal("0.01"))


def _text(data: dict[str, Any], field: str, limit: int, errors: dict[str, str]) -> str:
    value = " ".join(str(data.get(field) or "").split()) if field != "notes" else \
        str(data.get(field) or "").strip()
    if len(value) > limit:
        errors[field] = _("At most %(max)s characters.", max=limit)
    return value


def _clean(session: Session, data: dict[str, Any], branch_id: int | None,
           errors: dict[str, str]) -> dict[str, Any]:
    """Validate the editable fields present in ``data``."""
    out: dict[str, Any] = {}
    for field, limit in (("title", 120), ("brand", 60), ("model", 80), ("notes", 5000)):
        if field in data:
            out[field] = _text(data, field, limit, errors)
    currency = "CNY"
    if "currency" in data:
        try:
            currency = out["currency"] = currency_code(data["currency"] or "CNY")
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if "expected_value" in data:
        try:
            out["expected_value"] = amount(data["expected_value"] or 0, currency,
                                           "expected_value")
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if "expected_close_on" in data:
        value = data["expected_close_on"]
        try:
            out["expected_close_on"] = (
                None if value in (None, "") else
                value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError:
            errors["expected_close_on"] = _("A date as YYYY-MM-DD.")
    if "salesperson_id" in data:
        out["salesperson_id"] = check_salesperson(session, data["salesperson_id"], branch_id,
                                                  errors)
    if "probability" in data:
        value = data["probability"]
        if value in (None, ""):
            out["probability"] = None  # back to the stage's default
        else:
            try:
                number = int(str(value))
                if not 0 <= number <= 100:
                    raise ValueError
                out["probability"] = number
            except ValueError:
                errors["probability"] = _("A percentage from 0 to 100.")
    return out


def _apply(opp: SalesOpportunity, values: dict[str, Any], stage: Stage | None) -> None:
    for key, value in values.items():
        if key != "probability":
            setattr(opp, key, value)
    if "probability" in values:
        opp.probability_manual = values["probability"] is not None
        if values["probability"] is not None:
            opp.probability = values["probability"]
    if not opp.probability_manual and stage is not None:
        opp.probability = stage.probability
    _weigh(opp)


def create_opportunity(session: Session, data: dict[str, Any], *,
                       user: Any) -> SalesOpportunity:
    """Open an opportunity for a customer the user may see (their open prospect is linked
    when ``prospect_id`` is not given). The stage defaults to the pipeline's first; the
    salesperson to whoever opens it; the branch to the user's default."""
    errors: dict[str, str] = {}
    errors.update({f: _("Unknown field.") for f in sorted(set(data) - set(FIELDS))})
    customer = visible_row(session, Party, data.get("customer_id"), user)
    if customer is None:
        errors["customer_id"] = _("No customer with this id.")
    branch = pick_branch(session, user, data.get("branch_id"), errors) if user is not None \
        else session.get(Branch, record_id(data.get("branch_id")) or 0)
    if branch is None:
        errors.setdefault("branch_id", _("Choose a branch."))
    data = {"currency": "CNY", "salesperson_id": getattr(user, "id", None), **data}
    values = _clean(session, data, branch.id if branch else None, errors)
    prospect = _prospect(session, data.get("prospect_id"), customer, errors)
    stages = stages_for(session, branch.id if branch else None, values.get("brand", ""))
    code = str(data.get("stage") or next(s.code for s in stages if s.kind == OPEN))
    stage = _stage(stages, code)
    if stage is None or stage.kind != OPEN:
        errors["stage"] = _("Choose an open stage: %(allowed)s.", allowed=", ".join(
            s.code for s in stages if s.kind == OPEN))
    if not values.get("model") and not values.get("title"):
        errors["model"] = _("Name the model the customer is interested in.")
    if errors:
        raise ValidationFailed(_("The opportunity was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    assert customer is not None and branch is not None and stage is not None
    opp = SalesOpportunity(customer_id=customer.id, branch_id=branch.id,
                           prospect_id=prospect.id if prospect else None, stage=stage.code,
                           status=OPEN, stage_entered_at=utcnow(),
                           created_by=getattr(user, "id", None))
    _apply(opp, values, stage)
    session.add(opp)
    session.flush()
    add_entry(session, party_id=customer.id, kind="sales.opportunity", user=user,
              subject=_("Opportunity opened: %(model)s (%(stage)s)",
                        model=opp.model or opp.title, stage=stage.label),
              ref_type="sales_opportunity", ref_id=opp.id)
    emit(session, signals.opportunity_opened, opportunity_id=opp.id,
         customer_id=opp.customer_id, branch_id=opp.branch_id, stage=opp.stage,
         expected_value=opp.expected_value, currency=opp.currency,
         audit=Audit("sales_opportunity", opp.id, N_("Opportunity %(id)s opened"), None,
                     snapshot(opp), args={"id": opp.id}, branch_id=opp.branch_id,
                     version=opp.version))
    return opp


def _prospect(session: Session, value: Any, customer: Party | None,
              errors: dict[str, str]) -> SalesProspect | None:
    """The prospect named, which must be the customer's; else their open one, if any."""
    if customer is None:
        return None
    if value not in (None, ""):
        prospect = session.get(SalesProspect, record_id(value) or 0)
        if prospect is None or prospect.customer_id != customer.id:
            errors["prospect_id"] = _("Not a prospect of this customer.")
            return None
        return prospect
    return session.scalar(select(SalesProspect).where(
        SalesProspect.customer_id == customer.id,
        SalesProspect.status.in_(("pending_review", "consulting")))
        .order_by(SalesProspect.id.desc()).limit(1))


def update_opportunity(session: Session, opp: SalesOpportunity, data: dict[str, Any], *,
                       user: Any, expected_version: Any = None) -> SalesOpportunity:
    """Change what is known (model, value, close date, salesperson, probability …). The
    stage is changed by :func:`move` only. A closed opportunity is not edited any more."""
    check_version(session, opp, expected_version, entity_type="sales_opportunity",
                  current=snapshot(opp))
    errors: dict[str, str] = {}
    errors.update({f: _("Unknown field; move the stage with /move.") if f == "stage" else
                   _("Unknown field.") for f in sorted(set(data) - set(EDITABLE))})
    if opp.status != OPEN:
        errors["status"] = _("A closed opportunity cannot be changed.")
    data = {**data}
    if "expected_value" in data and "currency" not in data:
        data["currency"] = opp.currency
    values = _clean(session, data, opp.branch_id, errors)
    stages = stages_for(session, opp.branch_id, values.get("brand", opp.brand))
    if "brand" in values and _stage(stages, opp.stage) is None:
        errors["brand"] = _("The pipeline of this make has no stage %(stage)s.",
                            stage=opp.stage)
    if errors:
        raise ValidationFailed(_("The opportunity was not saved: %(fields)s.",
                                 fields=", ".join(sorted(errors))), errors)
    before = snapshot(opp)
    _apply(opp, values, _stage(stages, opp.stage))
    session.flush()
    after = snapshot(opp)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    if changed:
        emit(session, signals.opportunity_updated, opportunity_id=opp.id,
             customer_id=opp.customer_id, changes=changed,
             audit=Audit("sales_opportunity", opp.id, N_("Opportunity %(id)s changed"),
                         {k: before[k] for k in changed}, changed, args={"id": opp.id},
                         branch_id=opp.branch_id, version=opp.version))
    return opp


def move(session: Session, opp: SalesOpportunity, stage_code: Any, *, user: Any,
         lost_reason: Any = None, expected_version: Any = None,
         order_id: int | None = None) -> SalesOpportunity:
    """Move to another stage of its pipeline (409 with ``allowed`` when the pipeline does
    not allow it; lost without a configured reason is a 422). Won or lost closes it."""
    check_version(session, opp, expected_version, entity_type="sales_opportunity",
                  current=snapshot(opp))
    opp = lock(session, SalesOpportunity, [opp.id])[opp.id]
    stages = stages_for(session, opp.branch_id, opp.brand)
    code = str(stage_code or "").strip()
    target_code = flow_of(stages, opp).target(opp.stage, code)
    target = _stage(stages, target_code)
    assert target is not None
    reason = str(lost_reason or "").strip()
    if target.kind == LOST and reason not in LOST_REASON_LIST.keys(session):
        message = (_("Say why the opportunity was lost.") if not reason else
                   _("Choose one of: %(allowed)s.",
                     allowed=", ".join(LOST_REASON_LIST.keys(session))))
        raise ValidationFailed(message, {"lost_reason": message})
    before = snapshot(opp)
    old = _stage(stages, opp.stage)
    opp.stage, opp.status = target.code, target.kind
    opp.stage_entered_at = utcnow()
    if target.kind != OPEN:
        opp.closed_at = opp.stage_entered_at
        opp.probability = 100 if target.kind == WON else 0
        opp.lost_reason = reason if target.kind == LOST else ""
        opp.order_id = order_id if target.kind == WON else None
    elif not opp.probability_manual:
        opp.probability = target.probability
    _weigh(opp)
    session.flush()
    subject = {
        WON: _("Opportunity won: %(model)s", model=opp.model or opp.title),
        LOST: _("Opportunity lost: %(model)s (%(reason)s)", model=opp.model or opp.title,
                reason=LOST_REASON_LIST.label(reason)),
    }.get(target.kind) or _("Opportunity %(model)s: %(old)s → %(new)s",
                            model=opp.model or opp.title,
                            old=old.label if old else before["stage"], new=target.label)
    add_entry(session, party_id=opp.customer_id, kind="sales.opportunity", user=user,
              subject=subject, ref_type="sales_opportunity", ref_id=opp.id)
    audit = Audit("sales_opportunity", opp.id, N_("Opportunity %(id)s moved to %(stage)s"),
                  {"stage": before["stage"], "status": before["status"],
                   "probability": before["probability"]},
                  {"stage": opp.stage, "status": opp.status, "probability": opp.probability,
                   "lost_reason": opp.lost_reason},
                  args={"id": opp.id, "stage": opp.stage}, branch_id=opp.branch_id,
                  version=opp.version)
    common = {"opportunity_id": opp.id, "customer_id": opp.customer_id,
              "branch_id": opp.branch_id, "expected_value": opp.expected_value,
              "currency": opp.currency}
    if target.kind == WON:
        emit(session, signals.opportunity_won, **common, order_id=opp.order_id, audit=audit)
    elif target.kind == LOST:
        emit(session, signals.opportunity_lost, **common, lost_reason=opp.lost_reason,
             audit=audit)
    else:
        emit(session, signals.opportunity_moved, opportunity_id=opp.id,
             customer_id=opp.customer_id, old_stage=before["stage"], new_stage=opp.stage,
             audit=audit)
    return opp


def close(session: Session, opp: SalesOpportunity, outcome: str, *, user: Any,
          lost_reason: Any = None, expected_version: Any = None) -> SalesOpportunity:
    """Win or lose, whatever the won and lost stages of its pipeline are called."""
    stages = stages_for(session, opp.branch_id, opp.brand)
    code = next(s.code for s in stages if s.kind == (WON if outcome == WON else LOST))
    return move(session, opp, code, user=user, lost_reason=lost_reason,
                expected_version=expected_version)


def win_on_order(session: Session, customer_id: int, branch_id: int, model: str, *,
                 order_id: int, user: Any) -> SalesOpportunity | None:
    """The customer accepted a quotation (an order exists): their open opportunity in the
    order's branch is won. With several open ones the one for the quoted model wins (else
    the latest); the others stay open — a family may buy two cars."""
    rows = session.scalars(select(SalesOpportunity).where(
        SalesOpportunity.customer_id == customer_id, SalesOpportunity.branch_id == branch_id,
        SalesOpportunity.status == OPEN).order_by(SalesOpportunity.id.desc())).all()
    if not rows:
        return None
    wanted = " ".join((model or "").lower().split())
    chosen = next((o for o in rows if wanted and " ".join(o.model.lower().split()) == wanted),
                  rows[0])
    stages = stages_for(session, chosen.branch_id, chosen.brand)
    won = next(s.code for s in stages if s.kind == WON)
    return move(session, chosen, won, user=user, order_id=order_id)


# --- the pipeline summary ---------------------------------------------------------------------

def summary(session: Session, user: Any, *, branch_id: int | None = None, brand: str = "",
            salesperson_id: int | None = None, on: dt.date | None = None) -> dict[str, Any]:
    """Per stage of the pipeline of ``branch_id``/``brand``: how many open (or, for the
    won/lost stages, closed) opportunities stand there, their value and weighted value.

    Only what ``user`` may see is counted. Values in several currencies are given per
    currency in ``by_currency`` and summed in the base currency at the day's rate in
    ``value``/``weighted_value`` (a currency without a rate is left out there and named in
    ``unconverted``)."""
    stages = stages_for(session, branch_id, brand)
    stmt = select(SalesOpportunity.stage, SalesOpportunity.currency,
                  func.count(SalesOpportunity.id), func.sum(SalesOpportunity.expected_value),
                  func.sum(SalesOpportunity.weighted_value)).group_by(
        SalesOpportunity.stage, SalesOpportunity.currency)
    if branch_id is not None:
        stmt = stmt.where(SalesOpportunity.branch_id == branch_id)
    if brand:
        stmt = stmt.where(func.lower(SalesOpportunity.brand) == brand.strip().lower())
    if salesperson_id is not None:
        stmt = stmt.where(SalesOpportunity.salesperson_id == salesperson_id)
    rows = session.execute(visible(stmt, SalesOpportunity, user)).all()
    base = base_currency(session)
    day = on or business_today()
    unconverted: set[str] = set()
    out: list[dict[str, Any]] = []
    totals = {"count": 0, "value": Decimal(0), "weighted_value": Decimal(0)}
    for stage in stages:
        entry: dict[str, Any] = {"stage": stage.code, "label": stage.label,
                                 "kind": stage.kind, "probability": stage.probability,
                                 "count": 0, "value": Decimal(0),
                                 "weighted_value": Decimal(0), "by_currency": []}
        for code, currency, count, value, weighted in rows:
            if code != stage.code:
                continue
            value = quantize(Decimal(value or 0), currency)
            weighted = quantize(Decimal(weighted or 0), currency)
            entry["count"] += count
            entry["by_currency"].append({"currency": currency, "count": count,
                                         "value": value, "weighted_value": weighted})
            try:
                entry["value"] += convert(session, Money(value, currency), base, day).amount
                entry["weighted_value"] += convert(session, Money(weighted, currency), base,
                                                   day).amount
            except MissingRate:
                unconverted.add(currency)
        entry["value"] = quantize(entry["value"], base)
        entry["weighted_value"] = quantize(entry["weighted_value"], base)
        if stage.kind == OPEN:
            for key in totals:
                totals[key] += entry[key]
        out.append(entry)
    return {"branch_id": branch_id, "brand": brand, "currency": base, "stages": out,
            "open": totals, "unconverted": sorted(unconverted)}


@dataclass
class Column:
    """One column of a board: a stage (or, ``stage`` None, the stages its pipeline no
    longer has) with its cards and their totals in the base currency."""

    stage: Stage | None
    cards: list[SalesOpportunity]
    count: int = 0
    value: Decimal = Decimal(0)
    weighted_value: Decimal = Decimal(0)


@dataclass
class Board:
    """The cards that run through one pipeline, a column per stage. ``scopes`` names the
    (branch id, make) pairs whose opportunities use it, for the board's title."""

    stages: list[Stage]
    columns: list[Column]
    scopes: list[tuple[int, str]]

    def allowed(self, opp: SalesOpportunity) -> list[str]:
        """The stages ``opp`` may move to (every one from a stage its pipeline dropped)."""
        return flow_of(self.stages, opp).allowed(opp.stage)

    def label(self, code: str) -> str:
        return stage_label(self.stages, code)


def boards(session: Session, opportunities: list[SalesOpportunity], *,
           branch_id: int | None = None, brand: str = "",
           on: dt.date | None = None) -> tuple[list[Board], list[str]]:
    """The kanban's boards: the opportunities grouped by the pipeline they run through
    (branches and makes may run different ones; those sharing a pipeline share a board), in
    the order of their first card, each card in its stage's column.

    A card whose stage its pipeline has since dropped is kept in an "other stage" column
    at the end (it is moved out from there), so no card is left off. Without any card the
    one board is the pipeline of ``branch_id``/``brand``. Column totals are in the base
    currency at ``on``'s rate; the second value names currencies without one."""
    base = base_currency(session)
    day = on or business_today()
    by_scope: dict[tuple[int | None, str], list[Stage]] = {}
    grouped: dict[tuple[Any, ...], Board] = {}
    unconverted: set[str] = set()
    for opp in opportunities:
        scope = (opp.branch_id, (opp.brand or "").strip().lower())
        if scope not in by_scope:
            by_scope[scope] = stages_for(session, opp.branch_id, opp.brand)
        stages = by_scope[scope]
        key = tuple((s.code, s.label, s.probability, s.kind) for s in stages)
        board = grouped.get(key)
        if board is None:
            board = grouped[key] = Board(stages, [Column(s, []) for s in stages], [])
        if (opp.branch_id, opp.brand) not in board.scopes:
            board.scopes.append((opp.branch_id, opp.brand))
        column = next((c for c in board.columns if c.stage and c.stage.code == opp.stage),
                      None)
        if column is None:
            if board.columns[-1].stage is not None:
                board.columns.append(Column(None, []))
            column = board.columns[-1]
        column.cards.append(opp)
        column.count += 1
        try:
            column.value += convert(session, Money(opp.expected_value, opp.currency),
                                    base, day).amount
            column.weighted_value += convert(session, Money(opp.weighted_value, opp.currency),
                                             base, day).amount
        except MissingRate:
            unconverted.add(opp.currency)
    if not grouped:
        stages = stages_for(session, branch_id, brand)
        return [Board(stages, [Column(s, []) for s in stages], [])], []
    for board in grouped.values():
        for column in board.columns:
            column.value = quantize(column.value, base)
            column.weighted_value = quantize(column.weighted_value, base)
    return list(grouped.values()), sorted(unconverted)


def age_days(opp: SalesOpportunity, day: dt.date | None = None) -> int:
    """Days since the opportunity was opened (what a kanban card shows)."""
    created = opp.created_at or utcnow()
    return max(0, ((day or business_today()) - created.date()).days)
