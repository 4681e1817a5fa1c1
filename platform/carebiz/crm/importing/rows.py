"""One row of an import: match it to the customers on file, register the customer and the
vehicle through the CRM services, and record the outcome with the services' own messages."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm.importing.headers import ColumnMap
from carebiz.crm.importing.report import Options, Report
from carebiz.crm.importing.values import row_data
from carebiz.crm.models import Party, Vehicle
from carebiz.crm.services import parties, vehicles
from carebiz.crm.services.common import setting
from carebiz.crm.validation import normalize_phone, validate_id_number
from carebiz.errors import Conflict, ServiceError, ValidationFailed


def _masked(reason: str, value: str) -> str:
    """Identity numbers are personal data and the report is kept with the job: only their
    last four characters are shown, enough to recognise the match."""
    return value if reason != "id_number" else "…" + value[-4:]


class RowImporter:
    """The state of one run: the column map, the branches by code, and the customers this
    run created, so a later row with the same phone or ID number joins them."""

    def __init__(self, session: Session, cmap: ColumnMap, options: Options, user: Any):
        from carebiz.models import Branch

        self.session = session
        self.cmap = cmap
        self.options = options
        self.user = user
        self.region = setting(session, "crm.phone_region")
        self.branches = {b.code.casefold(): b.id for b in session.scalars(select(Branch))}
        #: customers created by this import: a later row matching one is the same customer
        self.created: set[int] = set()
        self.blank_reported = False

    def error(self, report: Report, row: int, column: str, reason: Any) -> None:
        report.errors.append({"row": row, "column": column, "reason": str(reason)})

    def service_errors(self, exc: ServiceError, entity: str) -> list[tuple[str, str]]:
        """The columns and reasons of a service error. Field messages are used where the
        service gives them (validation); a conflict's or refusal's message names the record
        or branch, which its field text ("Already registered.") does not."""
        if not exc.errors:
            return [("", exc.message)]
        if isinstance(exc, ValidationFailed | parties.DuplicateWarning):
            return [(self.cmap.header_of(entity, key), str(msg)) for key, msg in exc.errors.items()]
        key = next(iter(exc.errors))
        return [(self.cmap.header_of(entity, key), exc.message)]

    def matches(self, data: dict[str, Any]) -> list[parties.Duplicate]:
        """Customers sharing the row's phone or ID number; values that do not validate
        match nothing (the service reports them). Customers the importing user may not see
        come back masked, by the rule of the duplicate warnings (:func:`parties.withhold`):
        neither their name nor their id reaches the report."""
        phones = []
        for raw in data.get("phones") or []:
            with suppress(ValidationFailed):
                phones.append(normalize_phone(raw, self.region))
        id_number = None
        if data.get("id_number"):
            kind = data.get("id_kind") or ("cn_uscc" if data.get("kind") == "organization"
                                           else "cn_resident")
            with suppress(ValidationFailed):
                id_number = validate_id_number(kind, data["id_number"])
        if not phones and not id_number:
            return []
        found = [d for d in parties.find_duplicates(self.session, phones=phones,
                                                    id_number=id_number)
                 if d.reason in ("phone", "id_number")]
        return parties.withhold(self.session, self.user, found)

    def ambiguous(self, found: list[parties.Duplicate]) -> str:
        """Why a row matching several customers is refused, naming only those the user may
        see; the others are counted."""
        by_party = {d.party_id: d for d in found}
        names = [d.label for d in by_party.values() if not d.hidden]
        hidden = sum(d.hidden for d in by_party.values())
        if hidden:
            names.append(ngettext("%(num)d customer of another branch",
                                  "%(num)d customers of other branches", hidden))
        return _("Matches more than one customer on file: %(names)s. Merge them first, or "
                 "give this row the phone or ID number of one.", names=", ".join(names))

    def row(self, report: Report, number: int, cells: list[str]) -> None:
        """Import one row into the open SAVEPOINT and record its outcome in ``report``;
        errors of the customer and of the vehicle are all collected, so one pass over the
        file shows everything to fix in the row."""
        if not self.blank_reported and any(
                i < len(cells) and cells[i].strip() for i in self.cmap.blank):
            self.blank_reported = True
            report.warnings.append({"row": number, "column": "", "reason": _(
                "A column without a header holds values; they are not imported. Give the "
                "column a header from the template.")})
        data = row_data(self.cmap, cells)
        errors: list[tuple[str, str]] = []
        branch_id = None
        if data.branch_code:
            branch_id = self.branches.get(data.branch_code.casefold())
            if branch_id is None:
                errors.append((self.cmap.header_of("party", "branch_id"),
                               _("No branch with the code “%(code)s”.", code=data.branch_code)))
            else:
                data.party["branch_id"] = branch_id
        found = self.matches(data.party)
        by_party = {d.party_id: d for d in found}
        party: Party | None = None
        action = "create"
        match_info: list[dict[str, Any]] = []
        matched = self.cmap.header_of("party", "phones" if found[0].reason == "phone"
                                      else found[0].reason) if found else ""
        if len(by_party) > 1:
            action = "ambiguous"
            errors.append((matched, self.ambiguous(found)))
        elif by_party:
            dup = found[0]
            if dup.party_id in self.created:
                action = "same_in_file"
            else:
                action = self.options.on_existing
                match_info.append({"row": number,
                                   "customer_id": None if dup.hidden else dup.party_id,
                                   "name": dup.name, "by": dup.reason,
                                   "value": _masked(dup.reason, dup.value), "action": action})
            if action == "attach" and dup.hidden:  # never write to a customer one cannot see
                action = "hidden"
                errors.append((matched, _(
                    "Matches a customer of another branch, who cannot be changed from here. "
                    "Skip the row, or choose “Register a new customer anyway” to register a "
                    "customer of your own.")))
            elif action in ("attach", "same_in_file"):
                party = self.session.get(Party, dup.party_id)
        if action == "skip":  # the user asked to leave customers on file alone: no checks
            report.counts["skip"] += 1
            report.matches.extend(match_info)
            return
        if action == "create":
            try:
                party = parties.create_party(self.session, data.party, user=self.user,
                                             allow_duplicates=bool(by_party))
            except ServiceError as exc:
                errors.extend(self.service_errors(exc, "party"))
        vehicle_action = None
        if data.vehicle:
            vehicle_action, vehicle_errors = self.vehicle(data.vehicle, party, branch_id)
            errors.extend(vehicle_errors)
        if errors:
            report.counts["invalid"] += 1
            # one reason per column: an unknown branch code must not also read "Required."
            # from the service, nor a refused branch twice (customer and vehicle)
            first: dict[str, str] = {}
            for column, reason in errors:
                first.setdefault(column, reason)
            for column, reason in first.items():
                self.error(report, number, column, reason)
            return
        if action == "create" and party is not None:
            self.created.add(party.id)
        report.counts[action] += 1
        if vehicle_action:
            report.counts[vehicle_action] += 1
        report.matches.extend(match_info)

    def vehicle(self, data: dict[str, Any], party: Party | None,
                branch_id: int | None) -> tuple[str | None, list[tuple[str, str]]]:
        """Register the row's vehicle for its customer. A VIN already on file for this very
        customer is left as it is, so importing the same file twice changes nothing; on file
        for someone else it is an error: an import does not move cars between owners. A row
        without VIN registers the car by its plate, once per customer and plate."""
        values = dict(data)
        if party is not None:
            values["owner_id"] = party.id
            if not str(values.get("vin") or "").strip() and values.get("plate") and \
                    vehicles.owned_with_plate(self.session, party.id, values["plate"]):
                return "vehicles_unchanged", []  # a plate-only car imported before
        if branch_id is not None:
            values["branch_id"] = branch_id
        try:
            vehicles.create_vehicle(self.session, values, user=self.user)
        except Conflict as exc:
            existing = exc.details.get("existing")
            if existing and party is not None:
                current = self.session.get(Vehicle, existing["id"])
                if current is not None and current.owner_id == party.id:
                    return "vehicles_unchanged", []
            return None, self.service_errors(exc, "vehicle")
        except ServiceError as exc:
            return None, self.service_errors(exc, "vehicle")
        return "vehicles", []

