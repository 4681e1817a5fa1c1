"""Units page: the categories with their reference unit and units, a converter, and the
packaging units (defined by those holding ``units.manage``).

Views stay thin, as in :mod:`carebiz.web.admin`: the rules live in
:mod:`carebiz.units.services`, whose field errors come back next to the fields (422) with
everything the user typed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from carebiz import db
from carebiz.errors import ServiceError
from carebiz.security import can, require
from carebiz.toolkit import form_status, saving
from carebiz.units import registry, services
from carebiz.web.admin_forms import clean

bp = Blueprint("units", __name__, url_prefix="/units", template_folder="templates")

#: significant digits of a result shown on the page (as the API's default)
DIGITS = 6
UNIT_INPUT = {"list": "unit-names", "autocomplete": "off"}


class ConvertForm(FlaskForm):
    """Sent with GET, so a conversion is a link that can be kept and shared."""

    class Meta:
        csrf = False

    value = StringField(_l("Value"), validators=[DataRequired(), Length(max=60)],
                        render_kw={"inputmode": "decimal"})
    from_unit = StringField(_l("From"), validators=[DataRequired(), Length(max=40)],
                            render_kw=UNIT_INPUT)
    to_unit = StringField(_l("To"), validators=[DataRequired(), Length(max=40)],
                          render_kw=UNIT_INPUT)


class PackagingForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=40)],
                       description=_l("Letters, digits and _, e.g. box12 or drum200."))
    label = StringField(_l("Label"), validators=[Optional(), Length(max=100)],
                        description=_l("What people read, e.g. Box of 12."))
    base_unit = StringField(_l("Base unit"), validators=[DataRequired(), Length(max=40)],
                            render_kw=UNIT_INPUT, description=_l("e.g. piece, L, kg."))
    factor = StringField(_l("Factor"), validators=[DataRequired(), Length(max=40)],
                         render_kw={"inputmode": "decimal"},
                         description=_l("1 packaging unit = factor × base unit."))


#: service error fields → converter form fields
CONVERT_ALIASES = {"value": "value", "from": "from_unit", "to": "to_unit",
                   "unit": "from_unit"}


def _sess() -> Any:
    return db.session()


def number_text(value: Decimal) -> str:
    """A decimal in the reader's locale with all its digits: 6.21371, 1,200, 6,21371 (de)."""
    return format_decimal(value, locale=str(get_locale() or "en"), decimal_quantization=False)


def _convert(form: ConvertForm) -> dict[str, Any] | None:
    if not form.validate():
        return None
    value, source, target = (clean(form.value.data), clean(form.from_unit.data),
                             clean(form.to_unit.data))
    try:
        number = registry.parse_decimal(value)
        result = services.convert(_sess(), number, source, target, digits=DIGITS)
    except ServiceError as exc:
        placed = False
        for key, message in exc.errors.items():
            field = form._fields.get(CONVERT_ALIASES.get(key, key))
            if field is not None:
                field.errors = [*field.errors, str(message)]
                placed = True
        if not placed:
            form.form_errors.append(str(exc.message))
        return None
    return {"value": number_text(number), "from": source, "result": number_text(result),
            "to": target, "plain": registry.to_text(result)}


def _packaging_rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for unit in services.packaging_units(_sess()):
        try:
            category = registry.resolve(unit.name, packaging=table).category
            label = str(registry.CATEGORIES[category].label)
        except ServiceError:  # a base unit pint no longer knows: still list the row
            label = ""
        rows.append({"id": unit.id, "name": unit.name, "label": unit.label,
                     "base_unit": unit.base_unit, "factor": number_text(Decimal(unit.factor)),
                     "category": label})
    return rows


def _render(packaging_form: PackagingForm | None = None, status: int = 200) -> Any:
    table = services.packaging_table(_sess())
    form = ConvertForm(request.args if "value" in request.args else None)
    conversion = None
    if "value" in request.args:
        conversion = _convert(form)
        if conversion is None and status == 200:
            status = 422
    if packaging_form is None and can(current_user, "units.manage"):
        packaging_form = PackagingForm(formdata=None)
    return render_template("units/index.html", categories=registry.categories(table),
                           convert_form=form, conversion=conversion,
                           packaging=_packaging_rows(table), packaging_form=packaging_form,
                           unit_names=registry.known_units(table)), status


@bp.route("/")
@login_required
def index() -> Any:
    """Categories and their units, the converter and the packaging units."""
    return _render()


@bp.route("/packaging", methods=["POST"])
@require("units.manage")
def packaging_new() -> Any:
    """Define a packaging unit: ``1 <name> = factor <base_unit>``."""
    form = PackagingForm()
    if form.validate_on_submit():
        with saving(form) as done:
            unit = services.define_packaging_unit(_sess(), clean(form.name.data),
                                                  clean(form.label.data),
                                                  clean(form.base_unit.data),
                                                  clean(form.factor.data))
        if done.ok:
            flash(_("Packaging unit %(name)s defined: 1 %(name)s = %(factor)s %(base)s.",
                    name=unit.name, factor=registry.to_text(Decimal(unit.factor)),
                    base=unit.base_unit), "success")
            return redirect(url_for(".index") + "#packaging")
    return _render(packaging_form=form, status=form_status(form))
