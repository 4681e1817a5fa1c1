"""Forms of the stock, quotation, order and purchasing pages. Amounts are text fields: the
services read them as decimals and put their messages next to the field."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Optional

from carebiz.web.admin_forms import options

from .labels import PAYMENT_METHOD
from .services.orders import METHODS

STATUS_CHOICES = options([("in_stock", _l("In stock")), ("in_transit", _l("In transit")),
                          ("ordered", _l("Ordered"))])


class StockForm(FlaskForm):
    vin = StringField(_l("VIN"), validators=[DataRequired()])
    make = StringField(_l("Make"))
    model = StringField(_l("Model"), validators=[DataRequired()])
    trim = StringField(_l("Trim"))
    year = IntegerField(_l("Year"), validators=[Optional()])
    colour = StringField(_l("Colour"))
    cost = StringField(_l("Cost"), validators=[DataRequired()])
    currency = StringField(_l("Currency"), default="CNY")
    status = SelectField(_l("Status"), choices=STATUS_CHOICES)
    branch_id = SelectField(_l("Branch"), coerce=str)
    location = StringField(_l("Location"))

    def payload(self) -> dict[str, Any]:
        return {k: getattr(self, k).data for k in (
            "vin", "make", "model", "trim", "year", "colour", "cost", "currency", "status",
            "location")} | {"branch_id": self.branch_id.data or None}


class ReceiveForm(FlaskForm):
    version = HiddenField()
    location = StringField(_l("Location"))
    inspection_notes = TextAreaField(_l("Inspection notes"))


class TransferForm(FlaskForm):
    version = HiddenField()
    branch_id = SelectField(_l("To branch"), coerce=str)
    location = StringField(_l("Location"))


class QuotationForm(FlaskForm):
    """The price of one car: the vehicle, options, accessories, the business's fee lines
    (added by :func:`quotation_form`), a discount and a trade-in."""

    customer_id = IntegerField(_l("Customer number"), validators=[DataRequired()])
    stock_id = IntegerField(_l("Stock vehicle number"), validators=[Optional()])
    model = StringField(_l("Model"))
    trim = StringField(_l("Trim"))
    colour = StringField(_l("Colour"))
    currency = StringField(_l("Currency"), default="CNY")
    vehicle = StringField(_l("Vehicle price"), validators=[DataRequired()])
    options = StringField(_l("Options"))
    accessories = StringField(_l("Accessories"))
    discount = StringField(_l("Discount"))
    trade_in = StringField(_l("Trade-in value of the customer's car"))
    trade_in_description = StringField(_l("Trade-in car"))
    valid_until = StringField(_l("Valid until (YYYY-MM-DD)"))

    fee_names: list[str] = []

    def payload(self) -> dict[str, Any]:
        lines = [{"kind": "vehicle", "description": self.model.data or "",
                  "amount": self.vehicle.data}]
        for kind, field, text in (("option", self.options, _l("Options")),
                                  ("accessory", self.accessories, _l("Accessories"))):
            if (field.data or "").strip():
                lines.append({"kind": kind, "description": str(text), "amount": field.data})
        for i, name in enumerate(self.fee_names):
            value = getattr(self, f"fee_{i}").data
            if (value or "").strip():
                lines.append({"kind": "fee", "description": name, "amount": value})
        if (self.discount.data or "").strip():
            lines.append({"kind": "discount", "description": str(_l("Discount")),
                          "amount": self.discount.data})
        if (self.trade_in.data or "").strip():
            lines.append({"kind": "trade_in", "amount": self.trade_in.data,
                          "description": self.trade_in_description.data or ""})
        return {"customer_id": self.customer_id.data, "stock_id": self.stock_id.data,
                "model": self.model.data, "trim": self.trim.data, "colour": self.colour.data,
                "currency": self.currency.data, "valid_until": self.valid_until.data or None,
                "lines": lines}


def quotation_form(fee_names: list[str], **kwargs: Any) -> QuotationForm:
    """A :class:`QuotationForm` with one amount field per fee line of the setting."""
    attrs: dict[str, Any] = {"fee_names": fee_names}
    for i, name in enumerate(fee_names):
        attrs[f"fee_{i}"] = StringField(name)
    return type("SalesQuotationForm", (QuotationForm,), attrs)(**kwargs)


class PaymentForm(FlaskForm):
    amount = StringField(_l("Amount"), validators=[DataRequired()])
    currency = StringField(_l("Currency"))
    method = SelectField(_l("Method"),
                         choices=options((m, PAYMENT_METHOD.get(m, m)) for m in METHODS))


class InspectForm(FlaskForm):
    version = HiddenField()
    passed = BooleanField(_l("Passed"))
    notes = TextAreaField(_l("Inspection notes"))


class RegisterForm(FlaskForm):
    version = HiddenField()
    plate = StringField(_l("Plate"))


class DeliverForm(FlaskForm):
    version = HiddenField()
    override_reason = TextAreaField(_l("Reason to deliver with money outstanding (managers)"))


class CancelForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(_l("Why is the order cancelled?"))


class PurchaseForm(FlaskForm):
    supplier_id = IntegerField(_l("Supplier number"), validators=[DataRequired()])
    branch_id = SelectField(_l("Branch"), coerce=str)
    currency = StringField(_l("Currency"), default="CNY")
    make = StringField(_l("Make"))
    model = StringField(_l("Model"), validators=[DataRequired()])
    trim = StringField(_l("Trim"))
    colour = StringField(_l("Colour"))
    year = IntegerField(_l("Year"), validators=[Optional()])
    quantity = IntegerField(_l("Quantity"), default=1)
    unit_cost = StringField(_l("Unit cost"), validators=[DataRequired()])
    expected_on = StringField(_l("Expected on (YYYY-MM-DD)"))

    def payload(self) -> dict[str, Any]:
        return {"supplier_id": self.supplier_id.data, "branch_id": self.branch_id.data or None,
                "currency": self.currency.data, "expected_on": self.expected_on.data or None,
                "lines": [{k: getattr(self, k).data for k in (
                    "make", "model", "trim", "colour", "year", "quantity", "unit_cost")}]}


class PurchaseReceiveForm(FlaskForm):
    version = HiddenField()
    line_id = SelectField(_l("Line"), coerce=str)
    vin = StringField(_l("VIN"), validators=[DataRequired()])
    inspection_notes = TextAreaField(_l("Inspection notes"))


class PurchasePayForm(FlaskForm):
    amount = StringField(_l("Amount paid to the supplier"), validators=[DataRequired()])


class AllocateForm(FlaskForm):
    """Give an order without a car a VIN: the choices are the unreserved stock matching the
    quotation's model, in the branches the user sees (filled by the page)."""

    version = HiddenField()
    stock_id = SelectField(_l("Vehicle from stock"), coerce=str)


class InquiryForm(FlaskForm):
    """A price inquiry: the car and how many, asked of one supplier (send one per supplier
    to compare their quotes)."""

    supplier_id = IntegerField(_l("Supplier number"), validators=[DataRequired()])
    branch_id = SelectField(_l("Branch"), coerce=str)
    make = StringField(_l("Make"))
    model = StringField(_l("Model"), validators=[DataRequired()])
    trim = StringField(_l("Trim"))
    colour = StringField(_l("Colour"))
    quantity = IntegerField(_l("Quantity"), default=1)


class QuotePriceForm(FlaskForm):
    """The supplier's answer to an inquiry."""

    version = HiddenField()
    unit_cost = StringField(_l("Unit cost"), validators=[DataRequired()])
    currency = StringField(_l("Currency"), default="CNY")
    valid_until = StringField(_l("Valid until (YYYY-MM-DD)"))
