"""Custom fields an admin adds to customers or vehicles: definitions and value checks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from carebiz.crm import signals
from carebiz.crm.models import CustomField
from carebiz.errors import Conflict, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.generations import FIELDS, kept
from carebiz.i18n import N_

ENTITIES = ("party", "vehicle")
TYPES = ("text", "number", "date", "choice")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, slots=True)
class FieldRow:
    """A custom field definition as plain values: the form that one process keeps for all
    its requests (an ORM object belongs to one session and would be expired by its commit)."""

    id: int
    entity: str
    name: str
    label: str
    type: str
    choices: tuple[str, ...]
    required: bool
    position: int
    active: bool


#: the process-wide memo of the definitions (``carebiz.generations.kept``)
ROWS_MEMO = "crm.custom_fields"
_COLUMNS = (CustomField.id, CustomField.entity, CustomField.name, CustomField.label,
            CustomField.type, CustomField.choices, CustomField.required, CustomField.position,
            CustomField.active)


def field_rows(session: Session) -> tuple[FieldRow, ...]:
    """Every definition (inactive ones too), kept per process under the ``custom_fields``
    generation: each customer and vehicle page (and every customer write) reads them, and
    they change a few times a year. A definition added or changed in any worker bumps the
    counter in its own transaction, so the next request everywhere reads them again.
    Nothing is kept without counters, nor from a session with definition changes in
    flight (they might still be rolled back)."""
    memo = kept(session, FIELDS, ROWS_MEMO, CustomField)
    if memo is not None and "rows" in memo:
        found: tuple[FieldRow, ...] = memo["rows"]
        return found
    rows = tuple(
        FieldRow(id, entity, name, label, type_, tuple(choices or ()), bool(required),
                 position or 0, bool(active))
        for id, entity, name, label, type_, choices, required, position, active
        in session.execute(select(*_COLUMNS).order_by(CustomField.entity, CustomField.position,
                                                      CustomField.name)))
    if memo is not None:
        memo["rows"] = rows
    return rows


def definitions(session: Session, entity: str, active_only: bool = True) -> list[FieldRow]:
    """The definitions of ``entity`` in their order (position, then name), from
    :func:`field_rows`."""
    return [row for row in field_rows(session)
            if row.entity == entity and (row.active or not active_only)]


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


def _convert(field: FieldRow, value: Any) -> Any:
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
