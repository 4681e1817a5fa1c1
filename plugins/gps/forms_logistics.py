"""Forms of the waybill and subscription pages. Amounts and weights are text fields: the
services read them as decimals and put their messages next to the field."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

from carebiz.web.admin_forms import options

METHOD_LABELS = {"cash": _l("Cash"), "card": _l("Card"), "transfer": _l("Bank transfer"),
                 "wechat": _l("WeChat Pay"), "alipay": _l("Alipay"), "invoice": _l("Invoice")}


class WaybillForm(FlaskForm):
    shipper_name = StringField(_l("Shipper"), validators=[DataRequired()])
    shipper_phone = StringField(_l("Shipper's phone"))
    consignee_name = StringField(_l("Consignee"), validators=[DataRequired()])
    consignee_phone = StringField(_l("Consignee's phone"), validators=[DataRequired()])
    consignee_email = StringField(_l("Consignee's e-mail"),
                                  description=_l("Optional: status notices by e-mail too."))
    destination = StringField(_l("Destination"))
    goods = StringField(_l("Goods"), validators=[DataRequired()])
    pieces = IntegerField(_l("Pieces"), default=1, validators=[DataRequired()])
    weight_kg = StringField(_l("Weight (kg)"))
    vehicle_id = SelectField(_l("Vehicle"), coerce=str, validate_choice=False)
    driver_name = StringField(_l("Driver"))
    driver_phone = StringField(_l("Driver's phone"))
    notes = TextAreaField(_l("Notes"))

    def payload(self) -> dict[str, Any]:
        data = {k: getattr(self, k).data for k in (
            "shipper_name", "shipper_phone", "consignee_name", "consignee_phone",
            "consignee_email", "destination", "goods", "pieces", "weight_kg", "driver_name",
            "driver_phone", "notes")}
        data["vehicle_id"] = self.vehicle_id.data or None
        return data


class ScanForm(FlaskForm):
    code = StringField(_l("Barcode"), validators=[DataRequired()],
                       render_kw={"autofocus": True, "autocomplete": "off"})
    note = StringField(_l("Note"))


class MoveForm(FlaskForm):
    version = HiddenField()
    status = HiddenField()
    note = StringField(_l("Note"))


class RenewForm(FlaskForm):
    version = HiddenField()
    amount = StringField(_l("Amount"))
    method = SelectField(_l("Paid by"), choices=options(METHOD_LABELS.items()),
                         default="cash")
    reference = StringField(_l("Reference"))
    paid_on = StringField(_l("Paid on"), validators=[Optional()],
                          render_kw={"type": "date"})
