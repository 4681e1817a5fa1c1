"""How the CRM's records and events read in history panels and the audit log (the
``audit_labels`` declarations of the CRM): the same labels its forms use, so both languages
read alike on the form and in the history."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from carebiz.contributions import AuditLabels
from carebiz.crm import forms as f

PARTY = AuditLabels(
    "party",
    fields={"kind": _l("Kind"), "name": _l("Name"), "phones": _l("Phone numbers"),
            "emails": _l("E-mail addresses"), "roles": _l("Roles"), "tags": _l("Tags"),
            "branch_id": _l("Branch"), "id_kind": _l("Identity document"),
            "id_number": _l("Document number"), "gender": _l("Gender"),
            "birthday": _l("Birthday"), "source": _l("Source"), "province": _l("Province"),
            "city": _l("City"), "district": _l("District"), "street": _l("Street address"),
            "postal_code": _l("Postal code"), "do_not_contact": _l("Do not contact"),
            "preferred_channel": _l("Preferred channel"), "notes": _l("Notes"),
            "custom": _l("Custom fields"), "merged_into_id": _l("Merged into"),
            "active": _l("Active")},
    values={"kind": f.KIND_LABELS, "roles": f.ROLE_LABELS, "gender": f.GENDER_LABELS,
            "id_kind": f.ID_KIND_LABELS, "preferred_channel": f.CHANNEL_LABELS},
    references={"branch_id": "branch", "merged_into_id": "party",
                "custom": "custom_field:party"},
    events={"customer.created": _l("Customer registered"),
            "customer.updated": _l("Customer changed"),
            "customer.merged": _l("Customers merged"),
            "revenue.recorded": _l("Revenue recorded"),
            "crm.custom_field_defined": _l("Custom field added")},
)

VEHICLE = AuditLabels(
    "vehicle",
    fields={"vin": _l("VIN"), "plate": _l("Licence plate"), "make": _l("Make"),
            "model": _l("Model"), "year": _l("Year"), "colour": _l("Colour"),
            "engine_number": _l("Engine number"), "fuel_type": _l("Fuel"),
            "owner_id": _l("Owner"), "branch_id": _l("Branch"), "since": _l("Owned since"),
            "notes": _l("Notes"), "custom": _l("Custom fields")},
    values={"fuel_type": f.FUEL_LABELS},
    references={"owner_id": "party", "branch_id": "branch",
                "custom": "custom_field:vehicle"},
    events={"vehicle.created": _l("Vehicle registered"),
            "vehicle.updated": _l("Vehicle changed"),
            "vehicle.owner_changed": _l("Vehicle changed hands"),
            "vehicle.odometer_recorded": _l("Odometer reading recorded")},
)

TIMELINE_ENTRY = AuditLabels(
    "timeline_entry",
    fields={"status": _l("Status"), "outcome": _l("Outcome"),
            "satisfaction": _l("Satisfaction")},
    values={"status": f.STATUS_LABELS},
    events={"timeline.entry_added": _l("Entry added to the timeline"),
            "timeline.followup_completed": _l("Follow-up closed")},
)

CUSTOM_FIELD = AuditLabels(
    "custom_field",
    fields={"name": _l("Name"), "label": _l("Label"), "type": _l("Type"),
            "entity": _l("Record type")},
    values={"type": f.FIELD_TYPE_LABELS, "entity": f.ENTITY_LABELS},
)

DECLARATIONS = [PARTY, VEHICLE, TIMELINE_ENTRY, CUSTOM_FIELD]
