"""Registering and editing parties: validation, normalisation, duplicate warnings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, joinedload

from carebiz.concurrency import check_version
from carebiz.crm import signals
from carebiz.crm import validation as v
from carebiz.crm.models import (
    CHANNELS,
    ID_KINDS,
    KINDS,
    ORGANIZATION,
    PERSON,
    ROLES,
    ContactLink,
    Party,
    PartyEmail,
    PartyPhone,
    PartyRole,
    PartyTag,
    Vehicle,
)
from carebiz.crm.search_keys import name_key
from carebiz.crm.services.common import clean_branch_and_custom, host_of, setting
from carebiz.errors import Conflict, NotFound, ValidationFailed
from carebiz.events import Audit, diff, emit
from carebiz.i18n import N_
from carebiz.models.audit import MASKS
from carebiz.security.rows import hidden_ids, prepared
from carebiz.sql_json import child_rows
from carebiz.text import text_problem

#: load options for one customer shown whole (its page, its API answer): the four small
#: collections in the same statement instead of four more round trips
WHOLE_PARTY = (joinedload(Party.phones), joinedload(Party.emails), joinedload(Party.role_rows),
               joinedload(Party.tag_rows))


def whole_party(party_id: int) -> Select[Any]:
    """The statement for one customer shown whole (built on a shared base: SQLAlchemy then
    has less to walk for its statement cache)."""
    return _WHOLE.where(Party.id == party_id)


_WHOLE = select(Party).options(*WHOLE_PARTY)


def _whole_by_id() -> Select[Any]:
    return _WHOLE.where(Party.id == bindparam("party_id"))


def visible_whole_party(session: Session, party_id: int, user: Any) -> Party | None:
    """The customer shown whole, if ``user`` may see it (the record pages open one on every
    request: the statement is built once per process and row filters, see
    :func:`carebiz.security.rows.prepared`)."""
    stmt = prepared("parties.whole", _whole_by_id, Party, user, host_of(session))
    return session.execute(stmt, {"party_id": party_id}).unique().scalar_one_or_none()


class PartyRead:
    """A customer as an answer shows it, read as one plain row by :func:`read_party`: the
    columns of ``party`` as attributes, and ``phone_numbers``, ``email_addresses``, ``roles``
    and ``tags`` as :class:`Party` gives them. For what only shows a customer (the API's
    ``GET``); a change loads the ORM record."""

    id: int
    name: str
    branch_id: int | None
    version: int
    active: bool
    merged_into_id: int | None
    phone_numbers: list[str]
    email_addresses: list[str]
    roles: list[str]
    tags: list[str]

    def __init__(self, row: Mapping[str, Any]) -> None:
        values = dict(row)
        phones, emails = values.pop("phone_list"), values.pop("email_list")
        roles, tags = values.pop("role_list"), values.pop("tag_list")
        self.__dict__.update(values)
        # [position, id, value]: the ORM's order (by position), ties in the order written
        self.phone_numbers = [number for _p, _i, number in sorted(phones)]
        self.email_addresses = [email for _p, _i, email in sorted(emails)]
        self.roles = sorted(role for (role,) in roles)
        self.tags = sorted(tag for (tag,) in tags)

    def __repr__(self) -> str:
        return f"<PartyRead {self.id} {self.name}>"


def _read_by_id() -> Select[Any]:
    """The customer's row with its four lists as JSON columns, by the bound ``party_id``."""
    table = Party.__table__
    phones, emails, roles, tags = (model.__table__
                                   for model in (PartyPhone, PartyEmail, PartyRole, PartyTag))
    return select(
        table,
        child_rows(phones.c.position, phones.c.id, phones.c.e164,
                   where=phones.c.party_id == table.c.id).label("phone_list"),
        child_rows(emails.c.position, emails.c.id, emails.c.email,
                   where=emails.c.party_id == table.c.id).label("email_list"),
        child_rows(roles.c.role, where=roles.c.party_id == table.c.id).label("role_list"),
        child_rows(tags.c.tag, where=tags.c.party_id == table.c.id).label("tag_list"),
    ).where(table.c.id == bindparam("party_id"))


def read_party(session: Session, party_id: int, user: Any) -> PartyRead | None:
    """The customer as :func:`visible_whole_party` finds it (same row filters), as a plain
    :class:`PartyRead`: one row, no ORM objects. Loading the ORM record with its four lists
    cost the API's ``GET`` of a customer more than the rest of the request."""
    stmt = prepared("parties.read", _read_by_id, Party, user, host_of(session))
    row = session.execute(stmt, {"party_id": party_id}).mappings().one_or_none()
    return PartyRead(row) if row is not None else None

TEXT_FIELDS = {"name": 200, "source": 40, "province": 60, "city": 60, "district": 60,
               "street": 300, "postal_code": 16, "notes": 5000}
FIELDS = ("kind", "name", "phones", "emails", "roles", "tags", "branch_id", "gender",
          "birthday", "id_kind", "id_number", "source", "province", "city", "district",
          "street", "postal_code", "do_not_contact", "preferred_channel", "notes", "custom")


#: how a customer the reader may not see is named wherever another record points to them
#: (duplicate warnings, import matches, owners, audit summaries); translated when shown
OTHER_BRANCH = MASKS["party"]


def hidden_parties(session: Session, user: Any, ids: Any) -> set[int]:
    """The parties among ``ids`` that ``user`` may not see (one query).

    Wherever a record points to a customer — a duplicate warning, an import match, a
    vehicle's owners, an audit summary — a reader who may not see that customer gets neither
    their name nor their id. "May see" is decided by the very row filters every list uses
    (:func:`carebiz.security.rows.hidden_ids`), so a plugin's filter withholds names as it
    hides rows. Without a user (the command line, the system itself) nothing is hidden."""
    return hidden_ids(session, Party, user, {int(i) for i in ids if i}, host_of(session))


@dataclass(frozen=True)
class Duplicate:
    party_id: int
    name: str
    reason: str  # phone, email, id_number, vin
    value: str
    branch_id: int | None = None
    #: the reader may not see this customer: ``name`` is :data:`OTHER_BRANCH`, and the id
    #: is kept for the caller's own logic but never shown
    hidden: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"id": None if self.hidden else self.party_id, "name": self.name,
                "reason": self.reason, "value": self.value}

    @property
    def label(self) -> str:
        """The customer as messages name them: ``Name (#id)``, or only the mask."""
        return self.name if self.hidden else f"{self.name} (#{self.party_id})"


def withhold(session: Session, user: Any, dups: list[Duplicate]) -> list[Duplicate]:
    """``dups`` with the customers ``user`` may not see masked (see :func:`hidden_parties`):
    the match is worth knowing company-wide, but not who the other branch's customer is."""
    hidden = hidden_parties(session, user, {d.party_id for d in dups})
    if not hidden:
        return dups
    return [replace(d, name=_(OTHER_BRANCH), hidden=True) if d.party_id in hidden else d
            for d in dups]


def find_duplicates(session: Session, *, phones: list[str] = (), emails: list[str] = (),
                    id_number: str | None = None, vins: list[str] = (),
                    exclude_id: int | None = None) -> list[Duplicate]:
    """Active parties sharing a phone, e-mail, ID number or vehicle VIN (all normalised)."""
    found: list[Duplicate] = []

    def add(rows: Any, reason: str) -> None:
        for party, value in rows:
            if party.id != exclude_id and party.active:
                found.append(Duplicate(party.id, party.name, reason, value, party.branch_id))

    if phones:
        add(session.execute(select(Party, PartyPhone.e164).join(PartyPhone)
                            .where(PartyPhone.e164.in_(phones))), "phone")
    if emails:
        add(session.execute(select(Party, PartyEmail.email).join(PartyEmail)
                            .where(PartyEmail.email.in_(emails))), "email")
    if id_number:
        add(session.execute(select(Party, Party.id_number)
                            .where(Party.id_number == id_number)), "id_number")
    if vins:
        add(session.execute(select(Party, Vehicle.vin).join(Vehicle, Vehicle.owner_id == Party.id)
                            .where(Vehicle.vin.in_(vins))), "vin")
    return found


class DuplicateWarning(Conflict):
    """The data matches existing parties; the caller may confirm and save anyway."""

    code = "possible_duplicate"


def _clean(session: Session, data: dict[str, Any], party: Party | None,
           user: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate and normalise every given field, collecting all errors at once."""
    unknown = set(data) - set(FIELDS)
    errors: dict[str, str] = {f: _("Unknown field.") for f in sorted(unknown)}
    out: dict[str, Any] = {}
    creating = party is None
    region = setting(session, "crm.phone_region")

    if creating or "kind" in data:
        kind = data.get("kind") or PERSON
        if kind not in KINDS:
            errors["kind"] = _("One of: %(allowed)s.", allowed=", ".join(KINDS))
        out["kind"] = kind
    if creating or "name" in data:
        name = " ".join(str(data.get("name") or "").split())
        problem = text_problem(name, TEXT_FIELDS["name"]) if name else _("Required.")
        if problem:
            errors["name"] = problem
        out["name"] = name
    for field, limit in TEXT_FIELDS.items():
        if field in data and field != "name":
            text = str(data[field] or "").strip()
            problem = text_problem(text, limit)
            if problem:
                errors[field] = problem
            out[field] = text
    if "phones" in data:
        phones = []
        for raw in data["phones"] or []:
            if not str(raw).strip():
                continue
            try:
                phones.append(v.normalize_phone(str(raw), region))
            except ValidationFailed as exc:
                errors["phones"] = exc.errors.get("phones") or exc.message
        out["phones"] = list(dict.fromkeys(phones))
    if "emails" in data:
        emails = []
        for raw in data["emails"] or []:
            if not str(raw).strip():
                continue
            try:
                # compared and stored without case: mail systems ignore it in practice
                emails.append(v.normalize_email(str(raw)).lower())
            except ValidationFailed as exc:
                errors["emails"] = exc.errors.get("emails") or exc.message
        out["emails"] = list(dict.fromkeys(emails))
    if "roles" in data or creating:
        roles = list(dict.fromkeys(data.get("roles") or (["customer"] if creating else [])))
        bad = [r for r in roles if r not in ROLES]
        if bad:
            errors["roles"] = _("Unknown roles: %(names)s (allowed: %(allowed)s).",
                                names=", ".join(bad), allowed=", ".join(ROLES))
        out["roles"] = roles
    if "tags" in data:
        tags = list(dict.fromkeys(" ".join(str(t).split())[:40] for t in data["tags"] or []
                                  if str(t).strip()))
        out["tags"] = tags
    if "id_number" in data or "id_kind" in data:
        kind = data.get("id_kind", party.id_kind if party else None) or None
        raw = data.get("id_number", party.id_number if party else None)
        if raw and str(raw).strip():
            kind = kind or ("cn_uscc" if out.get("kind", party.kind if party else PERSON)
                            == ORGANIZATION else "cn_resident")
            if kind not in ID_KINDS:
                errors["id_kind"] = _("One of: %(allowed)s.", allowed=", ".join(ID_KINDS))
            else:
                try:
                    out["id_number"] = v.validate_id_number(kind, str(raw))
                except ValidationFailed as exc:
                    errors["id_number"] = exc.errors.get("id_number") or exc.message
            out["id_kind"] = kind
        else:
            out["id_number"], out["id_kind"] = None, None
    if "gender" in data:
        gender = data["gender"] or None
        if gender not in (None, "male", "female", "other"):
            errors["gender"] = _("One of: male, female, other.")
        out["gender"] = gender
    if "birthday" in data:
        value = data["birthday"]
        if value in (None, ""):
            out["birthday"] = None
        else:
            try:
                day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
                if day > dt.date.today() or day.year < 1900:
                    raise ValueError
                out["birthday"] = day
            except ValueError:
                errors["birthday"] = _("Enter a past date as YYYY-MM-DD.")
    if "do_not_contact" in data:
        out["do_not_contact"] = bool(data["do_not_contact"])
    if "preferred_channel" in data:
        channel = data["preferred_channel"] or None
        if channel not in (None, *CHANNELS):
            errors["preferred_channel"] = _("One of: %(allowed)s.", allowed=", ".join(CHANNELS))
        out["preferred_channel"] = channel
    clean_branch_and_custom(session, "party", data, party, user, out, errors)
    return out, errors


def snapshot(party: Party) -> dict[str, Any]:
    return {
        "kind": party.kind, "name": party.name, "phones": party.phone_numbers,
        "emails": party.email_addresses, "roles": party.roles, "tags": party.tags,
        "branch_id": party.branch_id, "id_kind": party.id_kind, "id_number": party.id_number,
        "gender": party.gender,
        "birthday": party.birthday.isoformat() if party.birthday else None,
        "source": party.source, "province": party.province, "city": party.city,
        "district": party.district, "street": party.street, "postal_code": party.postal_code,
        "do_not_contact": party.do_not_contact, "preferred_channel": party.preferred_channel,
        "custom": dict(party.custom or {}),
    }


def _apply(party: Party, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key == "phones":
            party.phones = [PartyPhone(e164=p, position=i) for i, p in enumerate(value)]
        elif key == "emails":
            party.emails = [PartyEmail(email=e, position=i) for i, e in enumerate(value)]
        elif key == "roles":
            party.role_rows = [PartyRole(role=r) for r in value]
        elif key == "tags":
            party.tag_rows = [PartyTag(tag=t) for t in value]
        else:
            setattr(party, key, value)
    if "name" in values:
        party.name_key = name_key(values["name"])


def create_party(session: Session, data: dict[str, Any], *, user: Any = None,
                 allow_duplicates: bool = False, vins: list[str] = ()) -> Party:
    """Register a party. Raises :class:`DuplicateWarning` (409, with the matching records in
    ``details["duplicates"]``) unless ``allow_duplicates``; all field errors come at once."""
    values, errors = _clean(session, data, None, user)
    if errors:
        raise ValidationFailed(_("The customer is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    if not allow_duplicates:
        _warn_duplicates(session, values, None, vins, user)
    party = Party(created_by=getattr(user, "id", None))
    _apply(party, values)
    session.add(party)
    session.flush()
    emit(session, signals.customer_created, party_id=party.id, kind=party.kind,
         roles=party.roles, branch_id=party.branch_id,
         audit=Audit("party", party.id, N_("Customer %(name)s registered"), None,
                     snapshot(party), branch_id=party.branch_id, args={"name": party.name},
                     version=party.version))
    return party


def update_party(session: Session, party: Party, data: dict[str, Any], *, user: Any = None,
                 allow_duplicates: bool = False,
                 expected_version: int | list[int] | None = None) -> Party:
    """Change the given fields. ``expected_version`` is the version the client saw (None:
    last write wins); another version raises a 409 naming what changed since."""
    if not party.active:
        raise Conflict(_("This customer was merged into another record and cannot change."))
    check_version(session, party, expected_version, entity_type="party",
                  current=snapshot(party))
    values, errors = _clean(session, data, party, user)
    if errors:
        raise ValidationFailed(_("The customer is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    if not allow_duplicates:
        _warn_duplicates(session, values, party.id, (), user)
    before = snapshot(party)
    _apply(party, values)
    session.flush()
    old, new = diff(before, snapshot(party))
    if new:
        emit(session, signals.customer_updated, party_id=party.id, changes=new,
             audit=Audit("party", party.id, N_("Customer %(name)s changed"), old, new,
                         branch_id=party.branch_id, args={"name": party.name},
                         version=party.version))
    return party


def _warn_duplicates(session: Session, values: dict[str, Any], exclude: int | None,
                     vins: list[str], user: Any = None) -> None:
    dups = find_duplicates(session, phones=values.get("phones") or [],
                           emails=values.get("emails") or [],
                           id_number=values.get("id_number"), vins=list(vins),
                           exclude_id=exclude)
    if not dups:
        return
    dups = withhold(session, user, dups)
    field_of = {"phone": "phones", "email": "emails", "id_number": "id_number", "vin": "vin"}
    errors = {}
    for dup in dups:
        errors[field_of[dup.reason]] = (
            _("Already registered for a customer of another branch.") if dup.hidden else
            _("Already registered for %(name)s (#%(id)s).", name=dup.name, id=dup.party_id))
    first = dups[0]
    if first.hidden:
        message = _("This looks like a customer of another branch, who is registered "
                    "already. Save anyway if they are different people.")
    else:
        message = _("This looks like %(name)s (#%(id)s), who is registered already. Open that "
                    "record, or save anyway if they are different people.", name=first.name,
                    id=first.party_id)
    raise DuplicateWarning(message, errors, {"duplicates": [d.as_dict() for d in dups]})


def get_party(session: Session, party_id: int, follow_merge: bool = True) -> Party:
    party = session.get(Party, party_id)
    if party is None:
        raise NotFound(_("No customer with id %(id)s.", id=party_id))
    hops = 0
    while follow_merge and party.merged_into_id and hops < 10:
        party = session.get(Party, party.merged_into_id)
        hops += 1
    return party


def set_contact(session: Session, organization: Party, person: Party, position: str = "",
                primary: bool = False) -> ContactLink:
    """Make ``person`` a contact of ``organization``."""
    if organization.kind != ORGANIZATION:
        raise ValidationFailed(_("Only organizations have contact persons."),
                               {"organization_id": _("Not an organization.")})
    if person.kind != PERSON:
        raise ValidationFailed(_("A contact must be a person."),
                               {"person_id": _("Not a person.")})
    link = session.get(ContactLink, (organization.id, person.id))
    if link is None:
        link = ContactLink(organization_id=organization.id, person_id=person.id)
        session.add(link)
    link.position = position.strip()[:100]
    if primary:
        for other in session.scalars(select(ContactLink).where(
                ContactLink.organization_id == organization.id)):
            other.is_primary = False
    link.is_primary = primary
    session.flush()
    emit(session, signals.customer_updated, party_id=organization.id,
         changes={"contact": person.id},
         audit=Audit("party", organization.id, N_("Contact %(person)s added to %(org)s"),
                     after={"person_id": person.id, "position": link.position},
                     branch_id=organization.branch_id,
                     args={"person": person.name, "org": organization.name},
                     refs={"person": ("party", person.id)}))
    return link


def contacts_of(session: Session, organization_id: int) -> list[ContactLink]:
    return list(session.scalars(select(ContactLink).where(
        ContactLink.organization_id == organization_id)
        .order_by(ContactLink.is_primary.desc())))


def may_contact(party: Party, channel: str | None = None) -> bool:
    """Whether reminders and campaigns may reach this party (on this channel). Every such
    feature asks here, so do-not-contact is honoured everywhere."""
    if party.do_not_contact or not party.active:
        return False
    if channel in ("phone", "sms"):
        return bool(party.phones)
    if channel == "email":
        return bool(party.emails)
    return True


def name_prefix(prefix: str, dialect: str) -> Any:
    """Parties whose name starts with ``prefix``, in a way each database serves from its
    index (GLOB on SQLite, LIKE with text_pattern_ops on PostgreSQL)."""
    key = name_key(prefix)
    if dialect == "sqlite":
        escaped = "".join(f"[{c}]" if c in "*?[" else c for c in key)
        return Party.name_key.op("GLOB")(escaped + "*")
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Party.name_key.like(escaped + "%", escape="\\")


def search_names(stmt: Any, session: Session, prefix: str) -> Any:
    """Limit ``stmt`` to parties whose name starts with ``prefix`` (index-served)."""
    return stmt.where(name_prefix(prefix, session.get_bind().dialect.name))



# --- a customer and their first vehicle in one go (the showroom form) ----------------------


def create_party_with_vehicle(session: Session, data: dict[str, Any],
                              vehicle: dict[str, Any] | None = None, *, user: Any = None,
                              allow_duplicates: bool = False, strict: bool = False,
                              vins: list[str] = ()) -> tuple[Party, Vehicle | None,
                                                             dict[str, str]]:
    """Register a party and, when ``vehicle`` holds anything, their first vehicle, in the
    caller's transaction. Returns the party, the vehicle (None when none was registered) and
    the vehicle's problems.

    The vehicle part never keeps the customer from being saved: a desk user registering
    someone on the phone must not lose the customer over a mistyped VIN or a car known only
    by its make. While the customer itself has errors, both sets come at once (the vehicle's
    under its own field names: vin, plate, make, model, year …) so one round fixes all; once
    the customer is valid, a vehicle with problems is left out and its problems returned for
    the page to report. A valid VIN joins the duplicate check.

    ``strict`` (the API) makes the vehicle part of the request instead: a vehicle with
    problems refuses the whole registration before anything is written, its errors under
    ``vehicle.<field>``, so an integrator never gets a customer without the car it sent and
    has nothing to clean up before sending again."""
    from carebiz.crm.services import vehicles as vehicle_service

    vehicle = {k: x for k, x in (vehicle or {}).items() if x not in (None, "")}
    if not vehicle:
        return create_party(session, data, user=user, allow_duplicates=allow_duplicates,
                            vins=list(vins)), None, {}
    _values, errors = _clean(session, data, None, user)
    checked, vehicle_errors = vehicle_service.check_vehicle(
        session, {**vehicle, "branch_id": data.get("branch_id")}, user=user)
    vehicle_errors = {k: m for k, m in vehicle_errors.items() if k != "branch_id"}
    if strict and vehicle_errors:
        errors = {**{f"vehicle.{k}": m for k, m in vehicle_errors.items()}, **errors}
    if errors:
        errors = {**vehicle_errors, **errors}
        raise ValidationFailed(_("The customer is not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)
    vins = [*vins, *([checked["vin"]] if checked.get("vin") and not vehicle_errors else [])]
    party = create_party(session, data, user=user, allow_duplicates=allow_duplicates,
                         vins=vins)
    if vehicle_errors:
        return party, None, vehicle_errors
    car = vehicle_service.create_vehicle(
        session, {**vehicle, "owner_id": party.id, "branch_id": party.branch_id}, user=user)
    return party, car, {}
