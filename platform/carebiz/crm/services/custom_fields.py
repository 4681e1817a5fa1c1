"""Custom fields an admin adds to customers or vehicles: definitions and value checks."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm import signals
from carebiz.crm.models import CustomField
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_

ENTITIES = ("party", "vehicle")
TYPES = ("text", "number", "date", "choice")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def definitions(session: Session, entity: str, active_only: bool = True) -> list[CustomField]:
    stmt = select(CustomField).where(CustomField.entity == entity)
    if active_only:
        stmt = stmt.where(CustomField.active.is_(True))
    return list(session.scalars(stmt.order_by(CustomField.position, CustomField.name)))


def define(session: Session, entity: str, name: str, label: str, type: str,
           choices: list[str] | None = None, required: bool = False,
           position: int = 0) -> CustomField:
    """Add a field. Its values live in the record's ``custom`` JSON, so no schema change."""
    errors = {}
    if entity not in ENTITIES:
        errors["entity"] = _("One of: %(allowed)s.", allowed=", ".join(ENTITIES))
    if not NAME_RE.match(name or ""):
        errors["name"] = _("Lower-case letters, digits and _, starting with a letter.")
    if type not in TYPES:
        errors["type"] = _("One of: %(allowed)s.", allowed=", ".join(TYPES))
    choices = [c.strip() for c in (choices or []) if c and c.strip()]
    if type == "choice" and not choices:
        errors["choices"] = _("A choice field needs at least one choice.")
    if not (label or "").strip():
        errors["label"] = _("Required.")
    if errors:
        raise ValidationFailed(_("The custom field is not valid."), errors)
    exists = session.scalar(select(CustomField).where(CustomField.entity == entity,
                                                      CustomField.name == name))
    if exists is not None:
        raise Conflict(_("A field named %(name)s exists already.", name=name),
                       {"name": _("Already taken.")})
    field = CustomField(entity=entity, name=name, label=label.strip(), type=type,
                        choices=choices, required=required, position=position)
    session.add(field)
    session.flush()
    emit(session, signals.custom_field_defined, field_id=field.id, entity=entity, name=name,
         audit=Audit("custom_field", field.id, N_("Custom field %(name)s added"),
                     after={"entity": entity, "type": type, "choices": choices},
                     args={"name": name}))
    return field


def clean_values(session: Session, entity: str, raw: dict[str, Any] | None,
                 current: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Check ``raw`` against the active definitions; return (values, errors by
    ``custom.<name>``). Values are JSON-able: numbers as decimal strings, dates as ISO."""
    raw = dict(raw or {})
    values = dict(current or {})
    errors: dict[str, str] = {}
    for field in definitions(session, entity):
        key = f"custom.{field.name}"
        if field.name not in raw:
            if field.required and values.get(field.name) in (None, ""):
                errors[key] = _("Required.")
            continue
        value = raw.pop(field.name)
        if value in (None, ""):
            if field.required:
                errors[key] = _("Required.")
            values.pop(field.name, None)
            continue
        try:
            values[field.name] = _convert(field, value)
        except ValueError as exc:
            errors[key] = str(exc)
    for name in raw:
        errors[f"custom.{name}"] = _("No custom field named %(name)s.", name=name)
    return values, errors


def _convert(field: CustomField, value: Any) -> Any:
    if field.type == "number":
        try:
            return str(Decimal(str(value).strip().replace(",", "")))
        except InvalidOperation:
            raise ValueError(_("Enter a number.")) from None
    if field.type == "date":
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError(_("Enter a date as YYYY-MM-DD.")) from None
    if field.type == "choice":
        if str(value) not in field.choices:
            raise ValueError(_("One of: %(allowed)s.", allowed=", ".join(field.choices)))
        return str(value)
    text = str(value).strip()
    if len(text) > 500:
        raise ValueError(_("At most 500 characters."))
    return text
