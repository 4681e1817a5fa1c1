"""Flask-WTF forms of the CRM pages.

Forms only check what a browser can get wrong (lengths, the shape of a date); the business
rules (phone numbers, VIN check digits, duplicates, odometer order) live in
``carebiz.crm.services``, whose field errors the views put back next to these fields. So most
inputs are plain text fields: whatever was typed comes back unchanged with the service's
message when it is refused."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from carebiz.crm.models import CHANNELS, FUEL_TYPES, ID_KINDS, KINDS, ROLES
from carebiz.web.admin_forms import clean, options

# -- translated labels of stored codes ---------------------------------------------------------

KIND_LABELS = {"person": _l("Person"), "organization": _l("Organization")}
ROLE_LABELS = {"customer": _l("Customer"), "prospect": _l("Prospect"), "agent": _l("Agent"),
               "partner": _l("Partner"), "supplier": _l("Supplier"), "insurer": _l("Insurer"),
               "fleet": _l("Fleet")}
GENDER_LABELS = {"male": _l("Male"), "female": _l("Female"), "other": _l("Other")}
ID_KIND_LABELS = {"cn_resident": _l("Resident identity card"),
                  "cn_uscc": _l("Unified social credit code"), "passport": _l("Passport"),
                  "other": _l("Other document")}
CHANNEL_LABELS = {"phone": _l("Phone"), "sms": _l("SMS"), "email": _l("Email"),
                  "wechat": _l("WeChat"), "mail": _l("Letter"), "visit": _l("Visit")}
FUEL_LABELS = {"petrol": _l("Petrol"), "diesel": _l("Diesel"), "hybrid": _l("Hybrid"),
               "phev": _l("Plug-in hybrid"), "bev": _l("Battery electric"),
               "fcev": _l("Fuel cell"), "cng": _l("Natural gas"), "other": _l("Other")}
#: the kinds of value a custom field holds ("Number" here is a numeric value, 数字; as a
#: column header it is a record's number, 编号: hence the context)
FIELD_TYPE_LABELS = {"text": _l("Text"), "number": lazy_pgettext("field type", "Number"),
                     "date": _l("Date"), "choice": _l("Choice")}
ENTITY_LABELS = {"party": _l("Customers"), "vehicle": _l("Vehicles")}
STATUS_LABELS = {"open": _l("Open"), "done": _l("Done"), "cancelled": _l("Cancelled")}
REASON_LABELS = {"phone": _l("phone"), "vin": _l("VIN"), "plate": _l("plate"),
                 "email": _l("e-mail"), "id_number": _l("ID number"), "name": _l("name"),
                 # partial matches (issue 10)
                 "phone_tail": _l("last digits of the phone"),
                 "phone_part": _l("digits of the phone"), "vin_tail": _l("end of the VIN"),
                 "name_part": _l("part of the name"), "name_initials": _l("pinyin initials")}

#: timeline kinds people record by hand; plugins' kinds come from their documents
MANUAL_KINDS = ("call", "visit", "message", "note", "task", "return_visit")

#: what ``datetime-local`` inputs send; the first is also how a value is written back
LOCAL_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

_SPLIT = re.compile(r"[\n\r,;，；]+")


def lines(text: str | None) -> list[str]:
    """One value per line (commas and semicolons, also Chinese ones, separate too)."""
    return [part.strip() for part in _SPLIT.split(text or "") if part.strip()]


def tag_list(text: str | None) -> list[str]:
    return [part.strip() for part in re.split(r"[,，;；]+", text or "") if part.strip()]


def labelled(labels: dict[str, Any], codes: Any, empty: Any = None) -> list[Any]:
    pairs = [(code, labels.get(code, code)) for code in codes]
    if empty is not None:
        pairs.insert(0, ("", empty))
    return options(pairs)


class MultiCheckboxField(SelectMultipleField):
    """Several choices shown as checkboxes (the template renders them)."""


def custom_field_name(name: str) -> str:
    """Form field of a custom field; service errors come as ``custom.<name>``."""
    return f"cf_{name}"


def add_custom_fields(form_class: type[FlaskForm], definitions: list[Any]) -> type[FlaskForm]:
    """A subclass of ``form_class`` with one field per active custom field definition."""

    class WithCustomFields(form_class):  # type: ignore[valid-type, misc]
        """Fields are added below, one per definition."""

    for definition in definitions:
        render_kw: dict[str, Any] = {"aria-required": "true"} if definition.required else {}
        field: Any
        if definition.type == "choice":
            field = SelectField(definition.label, validate_choice=False, render_kw=render_kw,
                                choices=options([("", "—"),
                                                 *((c, c) for c in definition.choices)]))
        elif definition.type == "number":
            field = StringField(definition.label, filters=[clean],
                                render_kw={**render_kw, "inputmode": "decimal"})
        elif definition.type == "date":
            field = StringField(definition.label, filters=[clean],
                                render_kw={**render_kw, "type": "date"})
        else:
            field = StringField(definition.label, filters=[clean], render_kw=render_kw)
        setattr(WithCustomFields, custom_field_name(definition.name), field)
    WithCustomFields.custom_names = [d.name for d in definitions]  # type: ignore[attr-defined]
    return WithCustomFields


def custom_values(form: FlaskForm) -> dict[str, Any]:
    return {name: form[custom_field_name(name)].data or ""
            for name in getattr(form, "custom_names", [])}


# -- customers ---------------------------------------------------------------------------------


class CustomerForm(FlaskForm):
    """Register or edit a customer; choices of ``branch_id`` are filled by the view."""

    kind = SelectField(_l("Kind"), default="person")
    name = StringField(_l("Name"), filters=[clean],
                       validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "off"})
    phones = TextAreaField(_l("Phone numbers"), filters=[clean],
                           description=_l("One per line, in any usual format."),
                           render_kw={"rows": 2, "inputmode": "tel"})
    emails = TextAreaField(_l("E-mail addresses"), filters=[clean],
                           description=_l("One per line."), render_kw={"rows": 2})
    roles = MultiCheckboxField(_l("Roles"), default=["customer"])
    tags = StringField(_l("Tags"), filters=[clean],
                       description=_l("Separated by commas, e.g. VIP, fleet."))
    branch_id = SelectField(_l("Branch"), coerce=str)
    gender = SelectField(_l("Gender"), default="")
    birthday = StringField(_l("Birthday"), filters=[clean], render_kw={"type": "date"})
    id_kind = SelectField(_l("Identity document"), default="")
    id_number = StringField(_l("Document number"), filters=[clean],
                            render_kw={"autocomplete": "off"})
    source = StringField(_l("Source"), filters=[clean], validators=[Length(max=40)],
                         description=_l("How they found us: walk-in, website, referral …"))
    province = StringField(_l("Province"), filters=[clean], validators=[Length(max=60)])
    city = StringField(_l("City"), filters=[clean], validators=[Length(max=60)])
    district = StringField(_l("District"), filters=[clean], validators=[Length(max=60)])
    street = StringField(_l("Street address"), filters=[clean], validators=[Length(max=300)])
    postal_code = StringField(_l("Postal code"), filters=[clean], validators=[Length(max=16)])
    do_not_contact = BooleanField(_l("Do not contact (no reminders or campaigns)"))
    preferred_channel = SelectField(_l("Preferred channel"), default="")
    notes = TextAreaField(_l("Notes"), filters=[clean], validators=[Length(max=5000)],
                          render_kw={"rows": 3})
    allow_duplicates = BooleanField(_l("Save anyway: this is a different customer"))
    #: the version the form was filled from: saving over a newer one is refused (409)
    version = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = labelled(KIND_LABELS, KINDS)
        self.roles.choices = labelled(ROLE_LABELS, ROLES)
        self.gender.choices = labelled(GENDER_LABELS, ("male", "female", "other"), "—")
        self.id_kind.choices = labelled(ID_KIND_LABELS, ID_KINDS, _l("Choose by the number"))
        self.preferred_channel.choices = labelled(CHANNEL_LABELS, CHANNELS, "—")

    def values(self) -> dict[str, Any]:
        """The data in the shape ``parties.create_party``/``update_party`` take."""
        return {
            "kind": self.kind.data, "name": self.name.data, "phones": lines(self.phones.data),
            "emails": lines(self.emails.data), "roles": list(self.roles.data or []),
            "tags": tag_list(self.tags.data), "branch_id": self.branch_id.data or None,
            "gender": self.gender.data or None, "birthday": self.birthday.data or None,
            "id_kind": self.id_kind.data or None, "id_number": self.id_number.data or None,
            "source": self.source.data, "province": self.province.data,
            "city": self.city.data, "district": self.district.data,
            "street": self.street.data, "postal_code": self.postal_code.data,
            "do_not_contact": self.do_not_contact.data,
            "preferred_channel": self.preferred_channel.data or None,
            "notes": self.notes.data, "custom": custom_values(self),
        }


#: a vehicle known by its plate alone (a walk-in's old car) gets its VIN later
VIN_LATER = _l("Empty if only the plate is known: add the VIN later.")


class NewCustomerForm(CustomerForm):
    """Registering adds an optional first vehicle, saved in the same transaction."""

    vin = StringField(_l("VIN"), filters=[clean], render_kw={
        "autocomplete": "off", "maxlength": 24, "spellcheck": "false",
        "autocapitalize": "characters"}, description=VIN_LATER)
    plate = StringField(_l("Licence plate"), filters=[clean], render_kw={"autocomplete": "off"})
    make = StringField(_l("Make"), filters=[clean], validators=[Length(max=60)])
    model = StringField(_l("Model"), filters=[clean], validators=[Length(max=80)])
    year = StringField(_l("Year"), filters=[clean], render_kw={"inputmode": "numeric"})

    def vehicle(self) -> dict[str, Any]:
        return {"vin": self.vin.data, "plate": self.plate.data, "make": self.make.data,
                "model": self.model.data, "year": self.year.data}


# -- timeline ----------------------------------------------------------------------------------


class TimelineForm(FlaskForm):
    """Record an interaction or a follow-up; ``kind`` and ``vehicle_id`` choices come from
    the view."""

    kind = SelectField(_l("What"), default="call")
    subject = StringField(_l("Subject"), filters=[clean], validators=[Length(max=200)])
    body = TextAreaField(_l("Details"), filters=[clean], render_kw={"rows": 2})
    vehicle_id = SelectField(_l("Vehicle"), default="")
    due_at = DateTimeLocalField(_l("Due"), validators=[Optional()], format=LOCAL_FORMATS,
                                description=_l("For tasks and return visits."))


#: the "done" form's labels and scores, shared with the 360° page's writer of that form
#: (``crm/timeline_html.py``), which writes it without building a form per request
OUTCOME_LABEL = _l("Outcome")
SATISFACTION_LABEL = _l("Satisfaction")
SATISFACTION_CHOICES = [("", "—"), *((str(n), str(n)) for n in range(5, 0, -1))]


class CompleteForm(FlaskForm):
    outcome = TextAreaField(OUTCOME_LABEL, filters=[clean], render_kw={"rows": 1})
    satisfaction = SelectField(SATISFACTION_LABEL, default="",
                               choices=options(SATISFACTION_CHOICES))
    cancelled = BooleanField(_l("Cancelled (did not take place)"))
    next = HiddenField()


# -- vehicles ----------------------------------------------------------------------------------


class VehicleForm(FlaskForm):
    vin = StringField(_l("VIN"), filters=[clean], render_kw={
        "autocomplete": "off", "maxlength": 24, "spellcheck": "false",
        "autocapitalize": "characters"}, description=VIN_LATER)
    plate = StringField(_l("Licence plate"), filters=[clean], render_kw={"autocomplete": "off"})
    make = StringField(_l("Make"), filters=[clean], validators=[Length(max=60)])
    model = StringField(_l("Model"), filters=[clean], validators=[Length(max=80)])
    year = StringField(_l("Year"), filters=[clean], render_kw={"inputmode": "numeric"})
    colour = StringField(_l("Colour"), filters=[clean], validators=[Length(max=40)])
    engine_number = StringField(_l("Engine number"), filters=[clean],
                                validators=[Length(max=40)])
    fuel_type = SelectField(_l("Fuel"), default="")
    branch_id = SelectField(_l("Branch"), coerce=str)
    notes = TextAreaField(_l("Notes"), filters=[clean], validators=[Length(max=5000)],
                          render_kw={"rows": 2})
    #: the version the form was filled from: saving over a newer one is refused (409)
    version = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fuel_type.choices = labelled(FUEL_LABELS, FUEL_TYPES, "—")

    def values(self) -> dict[str, Any]:
        return {"vin": self.vin.data, "plate": self.plate.data, "make": self.make.data,
                "model": self.model.data, "year": self.year.data or None,
                "colour": self.colour.data, "engine_number": self.engine_number.data,
                "fuel_type": self.fuel_type.data or None,
                "branch_id": self.branch_id.data or None, "notes": self.notes.data,
                "custom": custom_values(self)}


#: the customer picker's text box (carebiz.crm.picker): found by what the desk knows
PICKER_INPUT = {"autocomplete": "off", "list": "owner-options",
                "data-customer-picker": "owner-options"}


class NewVehicleForm(VehicleForm):
    """The owner is picked by search like on the owner change (``owner_id``: a ticked match
    or an old link's number); empty: a vehicle in stock."""

    owner = StringField(_l("Owner"), filters=[clean], validators=[Length(max=200)],
                        description=_l("Type a name, phone number or plate, then choose the "
                                       "customer. Empty: a vehicle in stock."),
                        render_kw=PICKER_INPUT)
    owner_id = StringField(filters=[clean], validators=[Length(max=20)])
    owner_since = DateField(_l("Owned since"), validators=[Optional()],
                            description=_l("Empty: today."))

    def values(self) -> dict[str, Any]:
        return {**super().values(), "owner_id": self.owner_id.data or None,
                "owner_since": self.owner_since.data}


class OdometerForm(FlaskForm):
    value_km = StringField(_l("Odometer (km)"), filters=[clean],
                           render_kw={"inputmode": "numeric", "autocomplete": "off"})
    read_at = DateTimeLocalField(_l("Read at"), validators=[Optional()], format=LOCAL_FORMATS,
                                 description=_l("Empty: now."))
    meter_replaced = BooleanField(_l("The meter was replaced (the value may be lower)"))


class OwnerForm(FlaskForm):
    """The new owner is found by name, phone or plate (:mod:`carebiz.crm.picker`), not by
    typing a customer number; ``owner_id`` is the match ticked on the page (or an old link's
    number)."""

    owner = StringField(_l("New owner"), filters=[clean], validators=[Length(max=200)],
                        description=_l("Type a name, phone number or plate, then choose the "
                                       "customer."),
                        render_kw=PICKER_INPUT)
    owner_id = StringField(filters=[clean], validators=[Length(max=20)])
    owner_since = DateField(_l("Owned since"), validators=[DataRequired()])


# -- merge and custom fields -------------------------------------------------------------------


class MergeForm(FlaskForm):
    """Which of the two records stays; the other one is chosen in the page's address."""

    keep = SelectField(_l("Keep"), choices=options([("this", _l("This record")),
                                                    ("other", _l("The other record"))]),
                       default="this")


class CustomFieldForm(FlaskForm):
    entity = SelectField(_l("Record"), default="party")
    name = StringField(_l("Name"), filters=[clean], validators=[DataRequired(), Length(max=40)],
                       description=_l("Lower-case letters, digits and _, e.g. wechat_id. "
                                      "Cannot be changed."))
    label = StringField(_l("Label"), filters=[clean], validators=[DataRequired(),
                                                                    Length(max=100)],
                        description=_l("What people see on the form."))
    type = SelectField(_l("Type"), default="text")
    choices = TextAreaField(_l("Choices"), filters=[clean], render_kw={"rows": 3},
                            description=_l("For a choice field: one per line."))
    required = BooleanField(_l("Required"))
    position = IntegerField(_l("Position"), default=0, validators=[Optional(),
                                                                  NumberRange(0, 1000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entity.choices = labelled(ENTITY_LABELS, ("party", "vehicle"))
        self.type.choices = labelled(FIELD_TYPE_LABELS, ("text", "number", "date", "choice"))

