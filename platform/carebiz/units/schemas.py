"""Marshmallow schemas of the units API. Decimals travel as strings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from carebiz.api.common import DecimalString
from carebiz.units.registry import SIGNIFICANT_DIGITS


class ConvertArgs(Schema):
    value = DecimalString(required=True,
                          metadata={"description": "A decimal number, e.g. 10 or 8.5."})
    from_unit = fields.String(required=True, data_key="from",
                              validate=validate.Length(min=1, max=40),
                              metadata={"description": "Unit of the value, e.g. km, box12."})
    to_unit = fields.String(required=True, data_key="to",
                            validate=validate.Length(min=1, max=40),
                            metadata={"description": "Unit wanted, e.g. mi."})
    digits = fields.Integer(load_default=6, validate=validate.Range(min=1,
                                                                    max=SIGNIFICANT_DIGITS),
                            metadata={"description": "Significant digits of the answer "
                                      f"(1–{SIGNIFICANT_DIGITS}, default 6)."})


class QuantitySchema(Schema):
    value = fields.String(metadata={"description": "A decimal, as a string.",
                                    "format": "decimal"})
    unit = fields.String()


class CategorySchema(Schema):
    name = fields.String()
    label = fields.String()
    reference = fields.String(metadata={"description": "The category's reference unit."})
    units = fields.List(fields.String())


class PackagingUnitSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    label = fields.String(load_default="", validate=validate.Length(max=100))
    base_unit = fields.String(required=True, validate=validate.Length(min=1, max=40))
    factor = DecimalString(required=True,
                           metadata={"description": "1 <name> = factor <base_unit>.",
                                     "example": "12"})
    category = fields.String(dump_only=True)
    active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
