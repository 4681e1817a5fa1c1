"""Flask-WTF forms of the administration pages.

Forms only check what a browser can get wrong (required, length, type); the business rules
(unique names, password rules, known roles) live in the services, whose errors the views put
back on these fields."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # WTForms < 3.3 takes (value, label) pairs
    SelectChoice = None

from carebiz.db import utcnow
from carebiz.i18n import LANGUAGES
from carebiz.services.users import MIN_PASSWORD_LENGTH
from carebiz.text import printable

EMAIL = r"^[^@\s]+@[^@\s]+$"


def clean(value: Any) -> str:
    """Text fields give stripped strings, never None (a field missing from the post), without
    the characters no field may hold (:mod:`carebiz.text`): in a form they are invisible
    leftovers of a paste (Word's vertical tab for a line break), which the person could
    neither see nor remove, so they are dropped (line-break-like ones become a newline)."""
    return printable(value or "").strip()


def local_today() -> dt.date:
    """Today where the business is, not where the server's clock is."""
    return to_user_timezone(utcnow()).date()


def options(pairs: Any) -> list[Any]:
    """``(value, label)`` pairs as select choices; WTForms 3.3 deprecates bare tuples."""
    if SelectChoice is None:
        return [(value, label) for value, label in pairs]
    return [SelectChoice(value, label) for value, label in pairs]


def locale_choices() -> list[Any]:
    """Empty value = no saved choice: the browser's language is used."""
    return options([("", _l("As the browser asks")), *LANGUAGES.items()])


class UserForm(FlaskForm):
    """Create a user. ``roles`` and ``branches`` choices are filled by the view."""

    username = StringField(_l("User name"), filters=[clean],
                           validators=[DataRequired(), Length(max=80)])
    display_name = StringField(_l("Display name"), filters=[clean], validators=[Length(max=200)])
    email = StringField(_l("Email"), filters=[clean], validators=[
        Optional(), Length(max=254), Regexp(EMAIL, message=_l("Not a valid email address."))])
    phone = StringField(_l("Mobile phone"), filters=[clean], validators=[Length(max=40)],
                        description=_l("For text messages: alarms, and position enquiries "
                                       "sent from this number."))
    # InputRequired, not DataRequired: spaces only reach the password rules, which say why
    password = PasswordField(_l("Password"), validators=[
        InputRequired(), Length(min=MIN_PASSWORD_LENGTH)])
    roles = SelectMultipleField(_l("Roles"), choices=[])
    branches = SelectMultipleField(_l("Branches"), choices=[])
    all_branches = BooleanField(_l("Sees every branch"))
    locale = SelectField(_l("Language"), choices=[], default="")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locale.choices = locale_choices()


class UserEditForm(UserForm):
    """Edit a user: the user name stays (it is the login), an empty password keeps the old one."""

    username = None  # type: ignore[assignment]
    password = PasswordField(_l("New password"), validators=[
        Optional(), Length(min=MIN_PASSWORD_LENGTH)],
        description=_l("Leave empty to keep the current password."))
    active = BooleanField(_l("Active (may log in)"))


class RoleForm(FlaskForm):
    """Create a role; ``permissions`` are rendered as grouped checkboxes by the template."""

    name = StringField(_l("Name"), filters=[clean], validators=[DataRequired(), Length(max=64)],
                       description=_l("Lower-case letters, digits and _; cannot be changed."))
    label = StringField(_l("Label"), filters=[clean], validators=[Length(max=200)])
    # the service checks the names against the registered permissions
    permissions = SelectMultipleField(_l("Permissions"), choices=[], validate_choice=False)


class RolePermissionsForm(FlaskForm):
    """Edit a role: its label (custom roles only) and its permissions."""

    label = StringField(_l("Label"), filters=[clean], validators=[DataRequired(), Length(max=200)])
    permissions = SelectMultipleField(_l("Permissions"), choices=[], validate_choice=False)


class BranchForm(FlaskForm):
    code = StringField(_l("Code"), filters=[clean], validators=[DataRequired(), Length(max=32)],
                       description=_l("Short and unique, e.g. SH01."))
    name = StringField(_l("Name"), filters=[clean], validators=[DataRequired(), Length(max=200)])
    address = StringField(_l("Address"), filters=[clean], validators=[Length(max=500)])
    phone = StringField(_l("Phone"), filters=[clean], validators=[Length(max=40)])
    active = BooleanField(_l("Active"), default=True)
    #: the version the form was filled from: saving over a newer one is refused (409)
    version = HiddenField()


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), filters=[clean], validators=[DataRequired(), Length(max=120)],
                       description=_l("What the token is for, e.g. the system that uses it."))
    expires = DateField(_l("Valid until"), validators=[Optional()],
                        description=_l("Last day the token works. Empty: until revoked."))

    def validate_expires(self, field: Field) -> None:
        if field.data is not None and field.data < local_today():
            raise ValidationError(_l("Choose today or a later day."))


def settings_form(specs: list[Any]) -> type[FlaskForm]:
    """A form class with one field per setting, named :func:`setting_field_name`."""

    class SettingsForm(FlaskForm):
        """Fields are added below, one per registered setting."""

    for spec in specs:
        kwargs: dict[str, Any] = {"label": spec.label, "description": spec.description}
        field: Field
        if spec.type == "int":
            field = IntegerField(validators=[InputRequired()], **kwargs)
        elif spec.type == "decimal":
            field = DecimalField(validators=[InputRequired()], places=None, **kwargs)
        elif spec.type == "bool":
            field = BooleanField(**kwargs)
        elif spec.type == "choice":
            field = SelectField(choices=options(spec.choices), **kwargs)
        else:
            field = StringField(**kwargs)
        setattr(SettingsForm, setting_field_name(spec.key), field)
    return SettingsForm


def setting_field_name(key: str) -> str:
    """Setting keys hold dots, which are awkward in HTML ids and CSS selectors."""
    return key.replace(".", "__")


def setting_value(spec: Any, data: Any) -> Any:
    """The form's typed value in the shape ``services.settings`` stores (for comparing)."""
    if spec.type == "decimal" and data is not None:
        return Decimal(data)
    return data
