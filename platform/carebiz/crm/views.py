"""CRM pages: customers and their 360° page, vehicles, timeline and follow-ups, "my day", the
one search box, merging duplicates and custom fields.

Views stay thin: they read the form and call ``carebiz.crm.services`` (which hold the rules)
inside :func:`carebiz.toolkit.saving`, which commits once, and on a
:class:`~carebiz.errors.ServiceError` rolls back and shows the form again with the messages
next to the fields and everything the user typed. Every record is loaded through the row filters, so
a customer or vehicle outside the user's branches answers 404 exactly like one that does not
exist."""

from __future__ import annotations

import datetime as dt
import logging
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from carebiz import db, lists
from carebiz.concurrency import parse_version
from carebiz.crm import forms as f
from carebiz.crm import lists as crm_lists
from carebiz.crm import picker, validation
from carebiz.crm.list_page import RowContext, customer_rows, day_formatter
from carebiz.crm.models import (
    KINDS,
    ROLES,
    Party,
    PartyTag,
    PartyValue,
    TimelineEntry,
    Vehicle,
)
from carebiz.crm.services import custom_fields as field_service
from carebiz.crm.services import lookup as lookup_service
from carebiz.crm.services import merge as merge_service
from carebiz.crm.services import overview as overview_service
from carebiz.crm.services import parties, recent, timeline
from carebiz.crm.services import vehicles as vehicle_service
from carebiz.crm.services.common import default_branch, host_of, setting
from carebiz.crm.services.parties import DuplicateWarning
from carebiz.crm.services.value import SEGMENTS
from carebiz.crm.timeline_html import ENTRY_FIELDS, TimelineHtml, entry_form, kind_label
from carebiz.db import utcnow
from carebiz.documents import service as documents
from carebiz.errors import ServiceError
from carebiz.i18n import date_filter
from carebiz.lists.paging import QUERY_SAFE, list_url
from carebiz.models import Branch
from carebiz.security import can, require, visible
from carebiz.security.rows import prepared
from carebiz.services.branches import branch_rows, usable_branches
from carebiz.services.user_names import user_names as names_of_users
from carebiz.toolkit import (
    aware,
    end_of_today,
    form_status,
    is_manager,
    local_now,
    one_visible,
    record_id,
    safe_next,
    saving,
    today,
    visible_or_404,
)
from carebiz.web.admin import record_audit
from carebiz.web.fields import form_field
from carebiz.web.links import id_url, record_label, record_url

log = logging.getLogger(__name__)
bp = Blueprint("crm", __name__, template_folder="templates")

#: timeline entries per page on the 360° page
TIMELINE_PAGE = 20
#: open follow-ups listed on the 360° page (the count in its header reads the list when it
#: holds them all)
FOLLOWUPS_SHOWN = 50
#: a search hit this good (an exact phone, VIN, plate, e-mail or ID) opens the record at once
EXACT_SCORE = 90


# -- helpers -----------------------------------------------------------------------------------


def _sess() -> Any:
    return db.session()


def _host() -> Any:
    return current_app.extensions["carebiz"].host


def phone_region() -> str:
    """The business's phone region, looked up once per request (a list formats a number per
    row; the settings service reads the value once per session)."""
    region = g.get("_crm_phone_region")
    if region is None:
        region = g._crm_phone_region = setting(_sess(), "crm.phone_region")
    return region


def custom_aliases(definitions: list[Any]) -> dict[str, str]:
    return {f"custom.{d.name}": f.custom_field_name(d.name) for d in definitions}


def party_or_404(party_id: int) -> Party:
    """The customer with phones, e-mails, roles and tags loaded in the same statement."""
    number = record_id(party_id)
    if number is None:
        abort(404)
    party = parties.visible_whole_party(_sess(), number, current_user)
    if party is None:
        abort(404)
    return party


def vehicle_or_404(vehicle_id: int) -> Vehicle:
    return visible_or_404(Vehicle, vehicle_id)


def merged_redirect(party: Party, endpoint: str = "crm.customer") -> Any:
    """A record merged into another leads there (old links and bookmarks keep working)."""
    if party.merged_into_id is None:
        return None
    target = parties.get_party(_sess(), party.id)
    if target.merged_into_id is not None or one_visible(Party, target.id) is None:
        abort(404)
    flash(_("Customer #%(old)s was merged into %(name)s (#%(new)s); this is that record now.",
            old=party.id, name=target.name, new=target.id), "info")
    return redirect(url_for(endpoint, party_id=target.id))


def my_branches(every: list[Any] | None = None) -> list[Any]:
    """Active branches the user may put records in (from ``every`` branch, when the caller
    has read them already)."""
    if every is None:
        return usable_branches(_sess(), current_user)
    everywhere = current_user.all_branches or current_user.is_superuser
    return sorted((b for b in every if b.active
                   and (everywhere or b.id in current_user.branch_ids)),
                  key=lambda b: b.code)


def branch_choices(current: int | None = None) -> list[Any]:
    """Branches the user may choose, plus the record's own (a manager's record may sit in
    a branch the editing user does not work in; keeping it must stay possible)."""
    branches = my_branches()
    if current is not None and current not in {b.id for b in branches}:
        own = _sess().get(Branch, current)
        if own is not None:
            branches.append(own)
    return f.options([(str(b.id), f"{b.code} · {b.name}") for b in branches])


def fit_branch_field(field: Any, current: int | None = None) -> None:
    """Fill a branch select; with nothing to choose (one branch, or none yet) hide it, so a
    single-branch business never sees it: the service puts the record in the default
    branch (:func:`carebiz.services.branches.default_branch_for`)."""
    field.choices = branch_choices(current)
    if len(field.choices) <= 1:
        field.validate_choice = False
        field.flags.hidden = True


def visible_parties(ids: Any) -> dict[int, Party]:
    """The parties among ``ids`` the user may see, by id (one query)."""
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    stmt = visible(select(Party).where(Party.id.in_(ids)), Party, current_user)
    return {p.id: p for p in _sess().scalars(stmt)}


def user_names(ids: Any) -> dict[int, str]:
    """Display names of the users ``ids`` (authors and assignees on the timeline), kept per
    process under the security generation (:mod:`carebiz.services.user_names`)."""
    return names_of_users(_sess(), ids)


def _trail() -> list[Any]:
    """The user's recent trail, read once per request (the navbar shows it, and opening a
    record asks whether it is on it already)."""
    if "_crm_trail" not in g:
        g._crm_trail = recent.trail(_sess(), current_user)
    return g._crm_trail


def remember(entity_type: str, entity_id: int, label: str) -> None:
    """Add the opened record to the user's recent trail, unless the trail shows it already.

    Bookkeeping, as a token's last use is: written once the request's own session is closed,
    in a transaction of its own (:func:`carebiz.db.after_session`), so the record's page only
    reads (on PostgreSQL it runs without a transaction, see :func:`carebiz.db.read_only`)
    and a page view never waits for the write lock. Losing one step of the trail (two tabs
    opening the same record at once) must never break the page: a failed write is dropped."""
    user = current_user._get_current_object()
    if not getattr(user, "is_authenticated", False):
        return
    try:
        if recent.seen_recently(_trail(), entity_type, entity_id, label):
            return
    except SQLAlchemyError:  # the trail could not be read: write nothing either
        return
    factory = current_app.extensions["carebiz"].session_factory

    def write() -> None:
        with factory() as sess:
            try:
                recent.record_view(sess, user, entity_type, entity_id, label)
                sess.commit()
            except SQLAlchemyError as exc:
                sess.rollback()
                log.info("recent trail of user %s not written: %s", user.id, exc)

    db.after_session(write)


# -- template helpers --------------------------------------------------------------------------


@bp.app_template_filter("phone")
def phone_filter(e164: str | None) -> str:
    return validation.format_phone(e164, phone_region())


@bp.app_template_global()
def vehicle_title(v: Any) -> Markup:
    """What the ``vehicle_name`` macro of ``crm/_crm.html`` writes (make, model and year,
    else the VIN, else "Vehicle"), as a function: the 360° page names each vehicle, and a
    macro call costs more than the name."""
    name = " ".join(str(part) for part in (v.make, v.model, v.year) if part)
    return escape(name or v.vin or Markup(_("Vehicle")))


def recent_links() -> list[dict[str, Any]]:
    """The user's trail of recently opened records, for the navbar."""
    if not getattr(current_user, "is_authenticated", False):
        return []
    try:
        rows = _trail()
    except SQLAlchemyError:  # a page rendered after a failed transaction still renders
        return []
    return [{"label": row.label or record_label(row.entity_type, row.entity_id),
             "type": row.entity_type,
             "url": record_url(row.entity_type, row.entity_id)} for row in rows]


LABELS = {"kind": f.KIND_LABELS, "role": f.ROLE_LABELS, "fuel": f.FUEL_LABELS,
          "status": f.STATUS_LABELS, "channel": f.CHANNEL_LABELS, "gender": f.GENDER_LABELS,
          "id_kind": f.ID_KIND_LABELS, "segment": SEGMENTS, "reason": f.REASON_LABELS,
          "field_type": f.FIELD_TYPE_LABELS, "entity": f.ENTITY_LABELS}


def labels() -> dict[str, dict[str, str]]:
    """The labels of stored codes translated into the current language, once per language
    and app (a list shows a role label per row; translating a lazy string each time costs
    more than the rest of the cell)."""
    by_locale = current_app.extensions.setdefault("carebiz.crm_labels", {})
    locale = str(get_locale())
    translated = by_locale.get(locale)
    if translated is None:
        translated = by_locale[locale] = {
            group: {code: str(label) for code, label in codes.items()}
            for group, codes in LABELS.items()}
    return translated


@bp.app_context_processor
def inject_crm() -> dict[str, Any]:
    # functions, so the queries run only where base.html shows the trail
    return {"recent_trail": recent_links, "crm_labels": labels()}


# -- customers: list ---------------------------------------------------------------------------


#: the customers page's filter controls and the list filter each one sets
CUSTOMER_CONTROLS = {"role": "role", "tag": "tag", "kind": "kind", "branch": "branch_id",
                     "segment": "segment"}


@bp.route("/customers")
@require("crm.customers.view")
@db.read_only
def customers() -> Any:
    sess = _sess()
    listed = lists.prepare(crm_lists.CUSTOMERS, request.args, sess, current_user)
    see_value = can(current_user, "crm.segments.view")
    page = lists.page(listed, sess, request.args.get("page", 1, type=int) or 1,
                      columns=crm_lists.PAGE_COLUMNS, clamp=True)
    details = crm_lists.page_details(sess, [p.id for p in page.items], segments=see_value)
    tags = list(sess.scalars(prepared("crm.customers.tags", _tag_choices, Party, current_user,
                                      host_of(sess))))
    every_branch = list(branch_rows(sess))  # plain rows, kept per security generation
    filters = {control: str(listed.values.get(name) or "")
               for control, name in CUSTOMER_CONTROLS.items()}
    # each tag's filter link once per page, not once per row that carries it (a page of
    # fifty rows repeats a handful of tags; every link is a dict copy and a urlencode)
    tag_urls = {t: list_url(tag=t) for t in {t for d in details.values() for t in d["tags"]}}
    region, translated = phone_region(), labels()
    rows = customer_rows(page.items, details, RowContext(
        customer_url=id_url("crm.customer", "party_id"), tag_urls=tag_urls,
        branch_codes={b.id: b.code for b in every_branch}, labels=translated,
        phone=lambda e164: validation.format_phone(e164, region),
        date=day_formatter(get_timezone(), str(get_locale()), date_filter),
        do_not_contact=_("Do not contact"),
        see_value=see_value, searched=bool(listed.q), reasons=listed.reasons))
    return render_template(
        "crm/customers.html", page=page, q=listed.q, filters=filters, sort=listed.sort,
        default_sort=listed.default_sort, see_value=see_value, tags=tags, rows=rows,
        branch_options=[(str(b.id), b.code) for b in my_branches(every_branch)],
        # the filters' labels as translated once per language, not each lazy label again
        role_options=[(r, translated["role"][r]) for r in ROLES],
        kind_options=[(k, translated["kind"][k]) for k in KINDS],
        segment_options=list(translated["segment"].items()))


def _tag_choices() -> Any:
    """The tag filter's choices (the first 200 tags of customers the user may see), built once
    per set of row filters (:func:`carebiz.security.rows.prepared`)."""
    return select(PartyTag.tag).join(Party).distinct().order_by(PartyTag.tag).limit(200)


@bp.route("/customers/export.csv")
@require("crm.customers.view")
def customers_export() -> Any:
    """The list as CSV: the generic export of the customers list (kept for old links)."""
    return redirect(url_for("exports.export", name="crm.customers", format="csv",
                            **request.args))


@bp.route("/segments")
@require("crm.segments.view")
def segments() -> Any:
    """How many customers each value segment holds, and what they are worth."""
    sess = _sess()
    stmt = visible(select(PartyValue.segment, func.count(PartyValue.party_id),
                          func.sum(PartyValue.lifetime_value), func.min(PartyValue.currency))
                   .join(Party, Party.id == PartyValue.party_id)
                   .where(Party.active.is_(True)).group_by(PartyValue.segment), Party,
                   current_user)
    rows = {segment: (count, total, currency) for segment, count, total, currency
            in sess.execute(stmt)}
    return render_template("crm/segments.html", rows=rows, segments=SEGMENTS)


# -- customers: forms --------------------------------------------------------------------------


def duplicate_rows(exc: ServiceError | None) -> list[dict[str, Any]]:
    """The records a duplicate warning matched, marked with whether the user may open them."""
    if not isinstance(exc, DuplicateWarning):
        return []
    rows = []
    seen: dict[int, dict[str, Any]] = {}
    for dup in exc.details.get("duplicates", []):
        row = seen.get(dup["id"])
        if row is None:
            row = {**dup, "reasons": [], "visible": one_visible(Party, dup["id"]) is not None}
            seen[dup["id"]] = row
            rows.append(row)
        row["reasons"].append((dup["reason"], dup["value"]))
    return rows


@bp.route("/customers/new", methods=["GET", "POST"])
@require("crm.customers.edit")
def customer_new() -> Any:
    sess = _sess()
    definitions = field_service.definitions(sess, "party")
    form = f.add_custom_fields(f.NewCustomerForm, definitions)(data={
        "branch_id": str(default_branch(sess, current_user, create=False) or ""),
        "roles": ["customer"],
        "name": request.args.get("name", ""), "phones": request.args.get("phone", "")})
    fit_branch_field(form.branch_id)
    duplicates: list[dict[str, Any]] = []
    if form.validate_on_submit():
        with saving(form, custom_aliases(definitions)) as done:
            party, _vehicle, problems = parties.create_party_with_vehicle(
                sess, form.values(), form.vehicle(), user=current_user,
                allow_duplicates=form.allow_duplicates.data)
        if done.ok:
            flash(_("Customer %(name)s registered.", name=party.name), "success")
            if problems:
                return _vehicle_left_out(form, party, problems)
            return redirect(url_for(".customer", party_id=party.id))
        duplicates = duplicate_rows(done.error)
    return render_template("crm/customer_form.html", form=form, party=None,
                           duplicates=duplicates, warning=_warning(duplicates),
                           custom_fields=definitions), form_status(form)


def _vehicle_left_out(form: f.NewCustomerForm, party: Party, problems: dict[str, str]) -> Any:
    """The customer is saved but their first vehicle was not: say why, and open the vehicle
    form for that customer with what was typed, so nothing is typed twice."""
    labels = {name: str(form[name].label.text) for name in ("vin", "plate", "make", "model",
                                                             "year")}
    reasons = "; ".join(f"{labels.get(field, field)}: {message}"
                        for field, message in sorted(problems.items()))
    flash(_("The vehicle was not registered (%(reasons)s). Correct it below and save it.",
            reasons=reasons), "warning")
    typed = {k: x for k, x in form.vehicle().items() if x}
    return redirect(url_for(".vehicle_new", owner_id=party.id, **typed))


def _warning(duplicates: list[dict[str, Any]]) -> str:
    if not duplicates:
        return ""
    return _("This looks like a customer who is registered already. Open that record, or tick "
             "“Save anyway” if they are different people.")


@bp.route("/customers/<int:party_id>/edit", methods=["GET", "POST"])
@require("crm.customers.edit")
def customer_edit(party_id: int) -> Any:
    sess = _sess()
    party = party_or_404(party_id)
    moved = merged_redirect(party, "crm.customer_edit")
    if moved is not None:
        return moved
    definitions = field_service.definitions(sess, "party")
    custom = party.custom or {}
    form = f.add_custom_fields(f.CustomerForm, definitions)(data={
        "kind": party.kind, "name": party.name,
        "phones": "\n".join(phone_filter(p) for p in party.phone_numbers),
        "emails": "\n".join(party.email_addresses), "roles": party.roles,
        "tags": ", ".join(party.tags), "branch_id": str(party.branch_id),
        "gender": party.gender or "",
        "birthday": party.birthday.isoformat() if party.birthday else "",
        "id_kind": party.id_kind or "", "id_number": party.id_number or "",
        "source": party.source, "province": party.province, "city": party.city,
        "district": party.district, "street": party.street, "postal_code": party.postal_code,
        "do_not_contact": party.do_not_contact,
        "preferred_channel": party.preferred_channel or "", "notes": party.notes,
        "version": str(party.version),
        **{f.custom_field_name(d.name): str(custom.get(d.name, "")) for d in definitions}})
    fit_branch_field(form.branch_id, party.branch_id)
    duplicates: list[dict[str, Any]] = []
    if form.validate_on_submit():
        aliases = custom_aliases(definitions)
        with saving(form, aliases) as done:
            parties.update_party(sess, party, form.values(), user=current_user,
                                 allow_duplicates=form.allow_duplicates.data,
                                 expected_version=parse_version(form.version.data))
        if done.ok:
            flash(_("Customer %(name)s saved.", name=party.name), "success")
            return redirect(url_for(".customer", party_id=party.id))
        duplicates = duplicate_rows(done.error)
    return render_template("crm/customer_form.html", form=form, party=party,
                           duplicates=duplicates, warning=_warning(duplicates),
                           custom_fields=definitions), form_status(form)


# -- customers: the 360° page ------------------------------------------------------------------


def _party_vehicles(party: Party) -> list[Vehicle]:
    stmt = select(Vehicle).where(Vehicle.owner_id == party.id).order_by(Vehicle.id)
    return list(_sess().scalars(visible(stmt, Vehicle, current_user)))


class _EntryChoices(NamedTuple):
    """What the timeline entry form offers and starts with, for one customer's page."""

    kinds: list[tuple[str, Any]]
    vehicles: list[tuple[str, str]]
    data: dict[str, Any]


def _entry_choices(party: Party, vehicles: list[Vehicle] | None = None) -> _EntryChoices:
    kinds = timeline.known_kinds(_sess())
    wanted = request.args.get("new", "")
    # the kinds' labels translated once per language (crm/timeline_html.py), as they show
    return _EntryChoices(
        kinds=[(k, kind_label(kinds[k].label)) for k in f.MANUAL_KINDS if k in kinds],
        vehicles=[("", "—"), *((str(v.id), " ".join(filter(None, [v.plate, v.make, v.model]))
                                or vehicle_service.vehicle_label(v))
                               for v in (_party_vehicles(party) if vehicles is None
                                         else vehicles))],
        data={"kind": wanted if wanted in f.MANUAL_KINDS else "call",
              "vehicle_id": request.args.get("vehicle", ""),
              "due_at": local_now().replace(hour=10, minute=0) + dt.timedelta(days=1)})


def _timeline_form(party: Party, vehicles: list[Vehicle] | None = None) -> f.TimelineForm:
    choices = _entry_choices(party, vehicles)
    form = f.TimelineForm(data=choices.data)
    form.kind.choices = f.options(choices.kinds)
    form.vehicle_id.choices = f.options(choices.vehicles)
    return form


def _entry_fields(party: Party, form: f.TimelineForm | None,
                  vehicles: list[Vehicle]) -> dict[str, Markup]:
    """The entry form's hidden tag and fields as the page shows them: a form sent back with
    errors as WTForms writes it (what was typed, the messages), a fresh one written
    directly (:func:`carebiz.crm.timeline_html.entry_form`)."""
    if form is not None:
        return {"hidden": form.hidden_tag(),
                **{name: form_field(form[name]) for name in ENTRY_FIELDS}}
    choices = _entry_choices(party, vehicles)
    return entry_form(choices.kinds, choices.data["kind"], choices.vehicles,
                      choices.data["vehicle_id"], choices.data["due_at"])


@cache
def _kind_query(name: str) -> str:
    """``?kind=<name>`` as ``url_for`` encodes it, once per registered kind."""
    return f"?{urlencode({'kind': name}, safe=QUERY_SAFE)}"


def _branch_row(branch_id: int | None) -> Any:
    """The record's branch (code and name for the page header) from the per-process rows."""
    return next((b for b in branch_rows(_sess()) if b.id == branch_id), None)


def _render_customer(party: Party, entry_form: f.TimelineForm | None = None,
                     status: int = 200) -> Any:
    sess = _sess()
    kinds = timeline.known_kinds(sess)
    kind = request.args.get("kind", "")
    wanted = [kind] if kind else None
    before = request.args.get("before", type=int)
    if before is not None and record_id(before) is None:
        before = None
    followups = timeline.open_followups(sess, party.id, current_user, limit=FOLLOWUPS_SHOWN + 1)
    complete = len(followups) <= FOLLOWUPS_SHOWN  # all of them: the header counts this list
    followups = followups[:FOLLOWUPS_SHOWN]
    ov = overview_service.overview(sess, party, current_user,
                                   timeline_limit=TIMELINE_PAGE + 1, kinds=wanted,
                                   open_entries=followups if complete else None)
    if before:
        entries, cursor = timeline.timeline_page(sess, party.id, current_user, kinds=wanted,
                                                 before=before, limit=TIMELINE_PAGE)
    else:
        entries = ov["timeline"][:TIMELINE_PAGE]
        cursor = entries[-1].id if len(ov["timeline"]) > TIMELINE_PAGE else None
    known = {v.id: v for v in ov["vehicles"]}
    known.update({row["vehicle"].id: row["vehicle"] for row in ov["former_vehicles"]})
    missing = {e.vehicle_id for e in entries + followups if e.vehicle_id} - set(known)
    if missing:
        known.update({v.id: v for v in sess.scalars(visible(
            select(Vehicle).where(Vehicle.id.in_(missing)), Vehicle, current_user))})
    people = user_names([e.created_by for e in entries] + [e.assignee_id for e in followups])
    definitions = field_service.definitions(sess, "party")
    now = utcnow()
    here = id_url("crm.customer", "party_id")(party.id)
    # the filter's links: the page's path once, each kind's query as url_for encodes it
    tl = TimelineHtml(kinds, people, now, labels()["status"])
    kind_links = [(name, tl.kind(name), here + _kind_query(name)) for name in kinds]
    return render_template(
        "crm/customer.html", party=party, ov=ov, value=ov["value"], entries=entries,
        cursor=cursor, kind=kind, before=before, page_url=here, kind_links=kind_links,
        followups=followups,
        vehicles_by_id=known, people=people,
        tl=tl,
        entry=_entry_fields(party, entry_form, ov["vehicles"])
        if can(current_user, "crm.timeline.edit") else None,
        custom_fields=definitions, branch=_branch_row(party.branch_id),
        see_value=can(current_user, "crm.segments.view"), now=now,
        followup_kinds=timeline.FOLLOWUP_KINDS,
        documents=documents.offered("party", current_user),
        audit_entries=record_audit("party", party.id)), status


@bp.route("/customers/<int:party_id>")
@require("crm.customers.view")
@db.read_only
def customer(party_id: int) -> Any:
    party = party_or_404(party_id)
    moved = merged_redirect(party)
    if moved is not None:
        return moved
    remember("party", party.id, party.name)
    return _render_customer(party)


@bp.route("/customers/<int:party_id>/timeline", methods=["POST"])
@require("crm.timeline.edit")
def timeline_add(party_id: int) -> Any:
    sess = _sess()
    party = party_or_404(party_id)
    moved = merged_redirect(party)
    if moved is not None:
        return moved
    form = _timeline_form(party)
    if form.validate_on_submit():
        vehicle = one_visible(Vehicle, form.vehicle_id.data) if form.vehicle_id.data else None
        followup = form.kind.data in timeline.FOLLOWUP_KINDS
        with saving(form) as done:
            timeline.add_entry(sess, party, form.kind.data, subject=form.subject.data,
                               body=form.body.data, vehicle=vehicle,
                               due_at=aware(form.due_at.data) if followup else None,
                               user=current_user)
        if done.ok:
            flash(_("Follow-up added.") if followup else _("Entry added."), "success")
            return redirect(url_for(".customer", party_id=party.id) + "#timeline")
    return _render_customer(party, entry_form=form, status=422)


@bp.route("/timeline/<int:entry_id>/complete", methods=["POST"])
@require("crm.timeline.edit")
def timeline_complete(entry_id: int) -> Any:
    entry = one_visible(TimelineEntry, entry_id)
    if entry is None:
        abort(404)
    form = f.CompleteForm()
    target = safe_next(form.next.data) or url_for(".customer", party_id=entry.party_id)
    if form.validate_on_submit():
        score = int(form.satisfaction.data) if form.satisfaction.data else None
        with saving() as done:
            timeline.complete_followup(_sess(), entry, outcome=form.outcome.data,
                                       satisfaction=score, user=current_user,
                                       cancelled=form.cancelled.data)
        if done.ok:
            flash(_("Follow-up closed."), "success")
    else:
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "danger")
    return redirect(target)


# -- merge -------------------------------------------------------------------------------------


def _merge_facts(party: Party) -> dict[str, Any]:
    sess = _sess()
    return {
        "party": party, "branch": sess.get(Branch, party.branch_id),
        "vehicles": sess.scalar(select(func.count(Vehicle.id))
                                .where(Vehicle.owner_id == party.id)) or 0,
        "entries": sess.scalar(select(func.count(TimelineEntry.id))
                               .where(TimelineEntry.party_id == party.id)) or 0,
    }


@bp.route("/customers/<int:party_id>/merge", methods=["GET", "POST"])
@require("crm.customers.merge")
def merge(party_id: int) -> Any:
    sess = _sess()
    party = party_or_404(party_id)
    moved = merged_redirect(party, "crm.merge")
    if moved is not None:
        return moved
    q = request.args.get("q", "").strip()
    other_id = request.values.get("other", "").strip()
    other = one_visible(Party, other_id) if other_id else None
    if other_id and (other is None or not other.active or other.id == party.id):
        flash(_("Choose another active customer you may see."), "warning")
        other = None
    hits = []
    if q and other is None:
        hits = [h for h in lookup_service.lookup(sess, current_user, q)
                if h.party.id != party.id]
    status = 200
    form = f.MergeForm()
    if request.method == "POST":
        if other is None or not form.validate_on_submit():
            status = 422
        else:
            keep, remove = (party, other) if form.keep.data == "this" else (other, party)
            with saving() as done:
                merge_service.merge_parties(sess, keep, remove, user=current_user)
            if done.ok:
                flash(_("Customer #%(removed)s merged into %(name)s.", removed=remove.id,
                        name=keep.name), "success")
                return redirect(url_for(".customer", party_id=keep.id))
            status = done.error.status if done.error else 422
    return render_template(
        "crm/merge.html", party=party, other=other, q=q, hits=hits, form=form,
        facts=[_merge_facts(party), _merge_facts(other)] if other else []), status


# -- search ------------------------------------------------------------------------------------


@bp.route("/search")
@require("crm.customers.view")
def search() -> Any:
    sess = _sess()
    q = request.args.get("q", "").strip()
    hits = lookup_service.lookup(sess, current_user, q) if q else []
    cars = (lookup_service.find_vehicles(sess, current_user, q)
            if q and can(current_user, "crm.vehicles.view") else [])
    exact = [h for h in hits if h.score >= EXACT_SCORE]
    if len(exact) == 1 and not request.args.get("all"):
        return redirect(url_for(".customer", party_id=exact[0].party.id))
    if not hits and len(cars) == 1 and not request.args.get("all"):
        return redirect(url_for(".vehicle", vehicle_id=cars[0].id))
    phone = validation.phone_search_key(q, phone_region()) if q else None
    return render_template("crm/search.html", q=q, hits=hits, cars=cars, phone=phone,
                           owners=visible_parties(v.owner_id for v in cars))


# -- my day ------------------------------------------------------------------------------------


@bp.route("/my-day")
@require("crm.timeline.edit")
def my_day() -> Any:
    sess = _sess()
    now = utcnow()
    today_end = end_of_today()
    manager = is_manager(current_user)
    whole = manager and request.args.get("all") == "1"
    stmt = visible(timeline.my_day(current_user, today_end=today_end, whole_branch=whole),
                   TimelineEntry, current_user)
    entries = list(sess.scalars(stmt.limit(500)))
    # a manager's own list may be empty while the branch has work due: say so, never
    # "well done" over overdue items (one counting query, through the row filters)
    counts = (timeline.due_counts(sess, current_user, now=now, today_end=today_end)
              if manager and not whole else None)
    return render_template("crm/my_day.html", entries=entries, counts=counts,
                           customers=visible_parties(e.party_id for e in entries),
                           people=user_names(e.assignee_id for e in entries), now=now,
                           manager=manager, whole=whole, kinds=timeline.known_kinds(sess),
                           done_form=f.CompleteForm(formdata=None))


# -- vehicles ----------------------------------------------------------------------------------


@bp.route("/vehicles")
@require("crm.vehicles.view")
def vehicles() -> Any:
    sess = _sess()
    listed = lists.prepare(crm_lists.VEHICLES, request.args, sess, current_user)
    makes = list(sess.scalars(visible(select(Vehicle.make).where(Vehicle.make != "")
                                      .distinct().order_by(Vehicle.make).limit(200),
                                      Vehicle, current_user)))
    page = lists.page(listed, sess, request.args.get("page", 1, type=int) or 1, clamp=True)
    return render_template("crm/vehicles.html", page=page, q=listed.q,
                           make=listed.values.get("make", ""),
                           fuel=listed.values.get("fuel_type", ""), sort=listed.sort,
                           default_sort=listed.default_sort, makes=[(m, m) for m in makes],
                           fuels=list(f.FUEL_LABELS.items()),
                           owners=visible_parties(v.owner_id for v in page.items))


def _render_vehicle(vehicle: Vehicle, odometer_form: f.OdometerForm | None = None,
                    owner_form: f.OwnerForm | None = None, status: int = 200,
                    owner_matches: list[dict[str, Any]] | None = None) -> Any:
    sess = _sess()
    owner = one_visible(Party, vehicle.owner_id) if vehicle.owner_id else None
    readings = vehicle_service.odometer_history(sess, vehicle.id, limit=50)
    entries = timeline.vehicle_timeline(sess, vehicle.id, current_user)
    party_ids = {e.party_id for e in entries}
    return render_template(
        "crm/vehicle.html", vehicle=vehicle, owner=owner, owner_matches=owner_matches or [],
        owner_hidden=vehicle.owner_id is not None and owner is None,
        ownerships=vehicle_service.ownerships(sess, vehicle.id, current_user),
        readings=readings,
        entries=entries, kinds=timeline.known_kinds(sess), now=utcnow(),
        entry_parties=visible_parties(party_ids),
        people=user_names([r.recorded_by for r in readings]
                          + [e.created_by for e in entries]),
        panels=_host().collect("vehicle_panels", session=sess, vehicle=vehicle,
                               user=current_user),
        custom_fields=field_service.definitions(sess, "vehicle"),
        branch=sess.get(Branch, vehicle.branch_id),
        odometer_form=odometer_form or f.OdometerForm(formdata=None,
                                                      data={"read_at": local_now()}),
        owner_form=owner_form or f.OwnerForm(formdata=None, data={
            "owner_since": today()}),
        documents=documents.offered("vehicle", current_user),
        audit_entries=record_audit("vehicle", vehicle.id)), status


@bp.route("/vehicles/<int:vehicle_id>")
@require("crm.vehicles.view")
def vehicle(vehicle_id: int) -> Any:
    car = vehicle_or_404(vehicle_id)
    label = " · ".join(filter(None, [car.plate, " ".join(filter(None, [car.make, car.model]))]))
    remember("vehicle", car.id, label or vehicle_service.vehicle_label(car))
    return _render_vehicle(car)


@bp.route("/vehicles/<int:vehicle_id>/odometer", methods=["POST"])
@require("crm.vehicles.edit")
def odometer_add(vehicle_id: int) -> Any:
    car = vehicle_or_404(vehicle_id)
    form = f.OdometerForm()
    if form.validate_on_submit():
        with saving(form) as done:
            vehicle_service.record_odometer(_sess(), car, form.value_km.data,
                                            aware(form.read_at.data),
                                            meter_replaced=form.meter_replaced.data,
                                            user=current_user)
        if done.ok:
            flash(_("Odometer reading saved."), "success")
            return redirect(url_for(".vehicle", vehicle_id=car.id) + "#odometer")
    return _render_vehicle(car, odometer_form=form, status=422)


@bp.route("/vehicles/<int:vehicle_id>/owner", methods=["POST"])
@require("crm.vehicles.edit")
def owner_change(vehicle_id: int) -> Any:
    car = vehicle_or_404(vehicle_id)
    form = f.OwnerForm()
    matches: list[dict[str, Any]] = []
    if form.validate_on_submit():
        picked = picker.resolve(_sess(), current_user, form.owner.data, form.owner_id.data)
        owner, matches = picked.party, picked.matches
        if owner is None:
            form.owner.errors = [picked.error]
        elif owner.id == car.owner_id:
            form.owner.errors = [_("This customer owns the vehicle already.")]
        else:
            with saving(form) as done:
                vehicle_service.change_owner(_sess(), car, owner, form.owner_since.data)
            if done.ok:
                flash(_("%(name)s is now the owner.", name=owner.name), "success")
                return redirect(url_for(".vehicle", vehicle_id=car.id))
    return _render_vehicle(car, owner_form=form, status=422, owner_matches=matches)


@bp.route("/customers/pick")
@require("crm.customers.view")
def customer_pick() -> Any:
    """The customers matching ``q`` for a picker's list while the user types (JSON): only
    active customers the user may see, so another branch's names never leave the server."""
    return {"options": picker.options(_sess(), current_user, request.args.get("q", "")[:200])}


@bp.route("/vehicles/new", methods=["GET", "POST"])
@require("crm.vehicles.edit")
def vehicle_new() -> Any:
    sess = _sess()
    owner = None
    if request.args.get("owner_id"):
        owner = party_or_404(request.args.get("owner_id", type=int) or 0)
    branch = default_branch(sess, current_user, create=False)
    if owner is not None and owner.branch_id in {b.id for b in my_branches()}:
        branch = owner.branch_id
    definitions = field_service.definitions(sess, "vehicle")
    typed = {k: request.args.get(k, "")[:40] for k in ("vin", "plate", "make", "model", "year")}
    form = f.add_custom_fields(f.NewVehicleForm, definitions)(data={
        **typed, "owner": picker.option_label(sess, owner) if owner else "",
        "branch_id": str(branch or "")})
    fit_branch_field(form.branch_id)
    existing = None
    matches: list[dict[str, Any]] = []
    if form.validate_on_submit():
        values = form.values()
        picked = picker.Picked()
        if form.owner.data or form.owner_id.data:
            picked = picker.resolve(sess, current_user, form.owner.data, form.owner_id.data)
            matches = picked.matches
        values["owner_id"] = picked.party.id if picked.party is not None else None
        if picked.error:
            form.owner.errors = [picked.error]
        else:
            with saving(form, custom_aliases(definitions)) as done:
                car = vehicle_service.create_vehicle(sess, values, user=current_user)
            if done.ok:
                flash(_("Vehicle %(vin)s registered.", vin=vehicle_service.vehicle_label(car)),
                      "success")
                return redirect(url_for(".vehicle", vehicle_id=car.id))
            if done.error is not None:
                found = done.error.details.get("existing") or {}
                existing = one_visible(Vehicle, found.get("id")) if found else None
    return render_template("crm/vehicle_form.html", form=form, vehicle=None, owner=owner,
                           existing=existing, custom_fields=definitions,
                           owner_matches=matches), form_status(form)


@bp.route("/vehicles/<int:vehicle_id>/edit", methods=["GET", "POST"])
@require("crm.vehicles.edit")
def vehicle_edit(vehicle_id: int) -> Any:
    sess = _sess()
    car = vehicle_or_404(vehicle_id)
    definitions = field_service.definitions(sess, "vehicle")
    custom = car.custom or {}
    form = f.add_custom_fields(f.VehicleForm, definitions)(data={
        "vin": car.vin or "", "plate": car.plate or "", "make": car.make, "model": car.model,
        "year": str(car.year or ""), "colour": car.colour, "engine_number": car.engine_number,
        "fuel_type": car.fuel_type or "", "branch_id": str(car.branch_id), "notes": car.notes,
        "version": str(car.version),
        **{f.custom_field_name(d.name): str(custom.get(d.name, "")) for d in definitions}})
    fit_branch_field(form.branch_id, car.branch_id)
    if form.validate_on_submit():
        aliases = custom_aliases(definitions)
        with saving(form, aliases) as done:
            vehicle_service.update_vehicle(sess, car, form.values(), user=current_user,
                                           expected_version=parse_version(form.version.data))
        if done.ok:
            flash(_("Vehicle %(vin)s saved.", vin=vehicle_service.vehicle_label(car)),
                  "success")
            return redirect(url_for(".vehicle", vehicle_id=car.id))
    owner = one_visible(Party, car.owner_id) if car.owner_id else None
    return render_template("crm/vehicle_form.html", form=form, vehicle=car, owner=owner,
                           existing=None, custom_fields=definitions,
                           owner_matches=[]), form_status(form)


# -- custom fields -----------------------------------------------------------------------------


@bp.route("/admin/custom-fields", methods=["GET", "POST"])
@require("crm.custom_fields")
def custom_fields() -> Any:
    sess = _sess()
    form = f.CustomFieldForm()
    if form.validate_on_submit():
        with saving(form) as done:
            field = field_service.define(
                sess, form.entity.data, form.name.data, form.label.data, form.type.data,
                choices=f.lines(form.choices.data), required=form.required.data,
                position=form.position.data or 0)
        if done.ok:
            flash(_("Custom field %(label)s added.", label=field.label), "success")
            return redirect(url_for(".custom_fields"))
    rows = {entity: field_service.definitions(sess, entity, active_only=False)
            for entity in field_service.ENTITIES}
    return render_template("crm/custom_fields.html", form=form, rows=rows), form_status(form)
