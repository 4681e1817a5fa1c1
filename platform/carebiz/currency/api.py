"""The currency API: currencies, exchange rates (entry, list, CSV import) and conversion.

``GET /api/v1/currency/convert?amount=100&from=USD&to=JPY&date=2026-01-05`` answers
``{"amount": "14850", "currency": "JPY"}``: decimals as strings, rounded half-up to the
target currency's minor unit; a missing rate is a 422 naming the pair and the date."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_babel import get_locale

from carebiz import db
from carebiz.api.common import ApiBlueprint, MissingRateErrorSchema, page_of
from carebiz.currency import rates
from carebiz.currency import schemas as s
from carebiz.currency.codes import currency_list
from carebiz.currency.money import Money
from carebiz.security import api_login_required, require
from carebiz.toolkit import saving

blp = ApiBlueprint("currency_api", __name__, url_prefix="/api/v1/currency",
                   description="Currencies, dated exchange rates and conversion.")


@blp.route("/currencies")
class Currencies(MethodView):
    @api_login_required
    @blp.response(200, s.CurrencyListSchema)
    def get(self) -> Any:
        """ISO 4217 currencies with their minor units, and the company's base currency."""
        return {"base_currency": rates.base_currency(db.session()),
                "items": currency_list(str(get_locale() or "en"))}


@blp.route("/rates")
class Rates(MethodView):
    @api_login_required
    @blp.arguments(s.RateListArgs, location="query")
    @blp.response(200, s.RatePage)
    def get(self, args: dict[str, Any]) -> Any:
        """Stored exchange rates, newest first per pair; filter by ``base`` and ``quote``."""
        stmt = rates.list_rates(args.get("base"), args.get("quote"))
        return page_of(db.session(), stmt, args["page"], args["per_page"])

    @require("currency.rates")
    @blp.arguments(s.RateSchema)
    @blp.response(201, s.RateSchema)
    @blp.alt_response(409, description="A rate of this pair and date exists already.")
    def post(self, data: dict[str, Any]) -> Any:
        """Enter a rate: one unit of ``base`` costs ``rate`` units of ``quote`` from
        ``valid_from``."""
        sess = db.session()
        with saving():
            row = rates.add_rate(sess, data["base"], data["quote"], data["rate"],
                                 data["valid_from"])
        return row


@blp.route("/rates/import")
class RatesImport(MethodView):
    @require("currency.rates")
    @blp.arguments(s.RateImportArgs, location="form_and_files")
    @blp.response(200, s.RateImportReportSchema)
    def post(self, args: dict[str, Any]) -> Any:
        """Check (``dry_run``, the default) or import rates from CSV (base, quote, rate,
        valid_from). Every bad row is reported; nothing is stored unless all rows are
        valid."""
        data = args["file"].stream.read(5 * 1024 * 1024 + 1)
        if len(data) > 5 * 1024 * 1024:
            from flask_smorest import abort

            abort(413)
        sess = db.session()
        try:
            report = rates.import_rates_csv(sess, data, dry_run=args["dry_run"])
            if report["committed"]:
                sess.commit()
        finally:
            sess.rollback()  # ends a dry run's transaction; a no-op after commit
        return report


@blp.route("/convert")
class Convert(MethodView):
    @api_login_required
    @blp.arguments(s.ConvertArgs, location="query")
    @blp.response(200, s.ConvertResultSchema)
    @blp.alt_response(422, schema=MissingRateErrorSchema,
                      description="Not valid; with `status: missing_rate` no rate is in force "
                                  "for the pair on the date (`base`, `quote`, `date`).")
    def get(self, args: dict[str, Any]) -> Any:
        """Convert ``amount`` from one currency to another at the rate in force on ``date``
        (today by default), via the base currency when the pair has no rate of its own."""
        on_date = args["date"] or s.today()
        money = Money(args["amount"], args["from_"])
        return rates.convert(db.session(), money, args["to"], on_date).as_dict()
