"""Marshmallow schemas of the currency API. Amounts and rates travel as strings."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask_babel import gettext as _
from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields

from carebiz.api.common import DecimalString, ListArgs, page_schema
from carebiz.currency.codes import is_code

#: three letters; which codes exist is ``GET /api/v1/currency/currencies`` (listing all of
#: them as an enum in every field would make the document mostly currency codes)
CODE_PATTERN = r"^[A-Za-z]{3}$"
CODE_DOC = {"description": "ISO 4217 code, e.g. CNY, USD, JPY (any case); the codes are "
                           "listed by `GET /api/v1/currency/currencies`.",
            "example": "USD", "pattern": CODE_PATTERN}


def _check_code(value: str) -> None:
    if not is_code(value):
        raise ValidationError(_("'%(code)s' is not an ISO 4217 currency code (e.g. CNY, USD, "
                                "JPY).", code=str(value)[:20]))


class Code(fields.String):
    """A currency code, checked against ISO 4217 and upper-cased."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("metadata", CODE_DOC)
        super().__init__(validate=_check_code, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(CODE_PATTERN, text):
            raise ValidationError(_("'%(code)s' is not an ISO 4217 currency code (e.g. CNY, "
                                    "USD, JPY).", code=text[:20]))
        return text.upper()


class CurrencySchema(Schema):
    code = fields.String()
    name = fields.String()
    minor_unit = fields.Integer(metadata={"description": "Decimal places: JPY 0, CNY 2, "
                                                         "KWD 3."})


class CurrencyListSchema(Schema):
    base_currency = fields.String(metadata={"description": "The company's base currency."})
    items = fields.List(fields.Nested(CurrencySchema))


class RateSchema(Schema):
    id = fields.Integer(dump_only=True)
    base = Code(required=True)
    quote = Code(required=True)
    rate = DecimalString(required=True, metadata={
        "description": "One unit of base costs this many units of quote (greater than "
                       "zero, at most 10 decimals).",
        "example": "148.50"})
    valid_from = fields.Date(required=True, metadata={"example": "2026-01-01"})
    source = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)



RatePage = page_schema(RateSchema, "ExchangeRatePage")


class RateListArgs(ListArgs):
    base = Code(load_default=None)
    quote = Code(load_default=None)


class ConvertArgs(Schema):
    amount = DecimalString(required=True, metadata={"example": "100"})
    from_ = Code(required=True, data_key="from")
    to = Code(required=True)
    date = fields.Date(load_default=None, metadata={
        "description": "The document date; today when left out."})


class ConvertResultSchema(Schema):
    amount = fields.String(metadata={"description": "Rounded to the minor unit of the "
                                                    "currency.", "example": "14850",
                                     "format": "decimal"})
    currency = fields.String(metadata={"example": "JPY"})


class RateImportArgs(Schema):
    """One multipart form: the file and the options."""

    file = Upload(required=True, metadata={
        "description": "A CSV file with the columns base, quote, rate, valid_from."})
    dry_run = fields.Boolean(load_default=True, metadata={
        "description": "Only check the file and answer the report (default)."})


class RateImportIssueSchema(Schema):
    row = fields.Integer(allow_none=True, metadata={"description": "The header is row 1."})
    column = fields.String()
    reason = fields.String()


class RateImportReportSchema(Schema):
    valid = fields.Boolean()
    rows = fields.Integer()
    dry_run = fields.Boolean()
    committed = fields.Boolean()
    imported = fields.Integer()
    errors = fields.List(fields.Nested(RateImportIssueSchema))


def today() -> dt.date:
    return dt.date.today()
