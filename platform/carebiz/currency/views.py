"""Currency pages: the currency list, exchange rates (list, entry, CSV import) and a
converter.

Views stay thin, as in :mod:`carebiz.web.admin`: they read the form, call
:mod:`carebiz.currency.rates` (which holds the rules), commit once, and on a
:class:`~carebiz.errors.ServiceError` roll back and show the page again (422) with the messages
next to the fields and everything the user typed. Everyone logged in may read rates and
convert; entering and importing rates needs ``currency.rates``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from carebiz import db
from carebiz.currency import rates
from carebiz.currency.codes import check_code, currency_list
from carebiz.currency.format import format_money
from carebiz.currency.models import ExchangeRate
from carebiz.currency.money import Money
from carebiz.currency.words import chinese_capital
from carebiz.errors import ServiceError, ValidationFailed
from carebiz.security import can, require
from carebiz.toolkit import apply_errors, form_status, paginate, saving
from carebiz.web.admin_forms import clean, local_today

bp = Blueprint("currency", __name__, url_prefix="/currency", template_folder="templates")

#: rates per page of the list
PER_PAGE = 50
#: largest CSV file of rates accepted (as the API)
MAX_IMPORT_BYTES = 5 * 1024 * 1024
CODE_INPUT = {"list": "currency-codes", "autocomplete": "off", "maxlength": 3,
              "class": "text-uppercase"}


# -- forms ---------------------------------------------------------------------------------
# Currency codes and rates are plain text: the service checks them and its messages come
# back next to the fields with what was typed.


class RateForm(FlaskForm):
    base = StringField(_l("Base currency"), validators=[DataRequired(), Length(max=20)],
                       render_kw=CODE_INPUT, description=_l("One unit of this currency …"))
    quote = StringField(_l("Quote currency"), validators=[DataRequired(), Length(max=20)],
                        render_kw=CODE_INPUT, description=_l("… costs the rate in this one."))
    rate = StringField(_l("Rate"), validators=[DataRequired(), Length(max=40)],
                       render_kw={"inputmode": "decimal", "placeholder": "148.50"})
    valid_from = DateField(_l("Valid from"), validators=[DataRequired()], default=local_today)


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()],
                     description=_l("Columns base, quote, rate, valid_from (YYYY-MM-DD); "
                                    "UTF-8 or GB18030."))
    check = SubmitField(_l("Check only"))
    run = SubmitField(_l("Import"))


class ConvertForm(FlaskForm):
    """Sent with GET, so a conversion is a link that can be kept and shared."""

    class Meta:
        csrf = False

    amount = StringField(_l("Amount"), validators=[DataRequired(), Length(max=40)],
                         render_kw={"inputmode": "decimal"})
    from_currency = StringField(_l("From"), validators=[DataRequired(), Length(max=20)],
                                render_kw=CODE_INPUT)
    to_currency = StringField(_l("To"), validators=[DataRequired(), Length(max=20)],
                              render_kw=CODE_INPUT)
    on_date = DateField(_l("Date"), validators=[Optional()],
                        description=_l("The document date; today when left empty."))


#: service error fields → converter form fields
CONVERT_ALIASES = {"amount": "amount", "currency": "from_currency", "from": "from_currency",
                   "base": "from_currency", "to": "to_currency", "quote": "to_currency",
                   "date": "on_date"}


# -- helpers -------------------------------------------------------------------------------


def _sess() -> Any:
    return db.session()


def _locale() -> str:
    return str(get_locale() or "en")


def rate_text(value: Any) -> str:
    """A stored rate as plain text without trailing zeros: ``148.5``, ``7.1``, ``150``."""
    return format(Decimal(value).normalize(), "f")


def _rate_list() -> tuple[Any, dict[str, str], str | None]:
    """The page of rates named by ``?base=&quote=&page=``, newest first."""
    wanted = {"base": clean(request.args.get("base")).upper(),
              "quote": clean(request.args.get("quote")).upper()}
    problem = None
    try:
        stmt = rates.list_rates(wanted["base"] or None, wanted["quote"] or None)
    except ValidationFailed as exc:
        problem = exc.message
        stmt = rates.list_rates()
    stmt = stmt.order_by(None).order_by(ExchangeRate.valid_from.desc(), ExchangeRate.base,
                                        ExchangeRate.quote, ExchangeRate.id.desc())
    return paginate(stmt, PER_PAGE), wanted, problem


def _convert(form: ConvertForm) -> dict[str, Any] | None:
    """Run the converter when its form was sent; the result or None (errors on the form)."""
    if not form.validate():
        return None
    sess = _sess()
    day = form.on_date.data or local_today()
    try:
        source = check_code(form.from_currency.data, "from")
        target = check_code(form.to_currency.data, "to")
        money = Money(clean(form.amount.data), source)
        result = rates.convert(sess, money, target, day)
        rate = rates.rate_on(sess, source, target, day) if source != target else None
    except ServiceError as exc:
        sess.rollback()
        _place(form, exc)
        return None
    capital = None
    if result.currency == "CNY":
        try:
            capital = chinese_capital(result.amount)
        except ValueError:
            capital = None
    if rate is not None:
        rate = rate_text(rate.quantize(Decimal("1e-10")))
    return {"money": money, "result": result, "date": day, "rate": rate,
            "shown_from": format_money(money.quantize()),
            "shown": format_money(result), "capital": capital}


def _place(form: FlaskForm, exc: ServiceError) -> None:
    """The service's field errors next to the converter's fields; the rest (a missing rate)
    above the form."""
    placed = False
    for key, message in exc.errors.items():
        field = form._fields.get(CONVERT_ALIASES.get(key, key))
        if field is not None:
            field.errors = [*field.errors, str(message)]
            placed = True
    if not placed:
        form.form_errors.append(str(exc.message))


def _render_rates(rate_form: RateForm | None = None, import_form: ImportForm | None = None,
                  report: dict[str, Any] | None = None, status: int = 200) -> Any:
    sess = _sess()
    page, wanted, problem = _rate_list()
    may_enter = can(current_user, "currency.rates")
    if may_enter and rate_form is None:
        rate_form = RateForm(formdata=None, quote=rates.base_currency(sess))
    if may_enter and import_form is None:
        import_form = ImportForm(formdata=None)
    convert_form = ConvertForm(request.args if "amount" in request.args else None)
    conversion = None
    if "amount" in request.args:
        conversion = _convert(convert_form)
        if conversion is None and status == 200:
            status = 422
    elif not convert_form.to_currency.data:
        convert_form.to_currency.data = rates.base_currency(sess)
    return render_template(
        "currency/rates.html", page=page, wanted=wanted, filter_problem=problem,
        base_currency=rates.base_currency(sess), rate_form=rate_form,
        import_form=import_form, report=report, convert_form=convert_form,
        conversion=conversion, codes=currency_list(_locale()), rate_text=rate_text,
    ), status


# -- pages ---------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index() -> Any:
    """ISO 4217 currencies with their names in the reader's language; the base marked."""
    q = clean(request.args.get("q"))[:60]
    items = currency_list(_locale())
    if q:
        needle = q.casefold()
        items = [c for c in items if needle in c["code"].casefold()
                 or needle in c["name"].casefold()]
    base = rates.base_currency(_sess())
    items.sort(key=lambda c: (c["code"] != base, c["code"]))
    return render_template("currency/index.html", items=items, q=q, base_currency=base)


@bp.route("/rates", endpoint="rates")
@login_required
def rates_page() -> Any:
    """Rates (filtered by pair, newest first), the converter, and for those who may, the
    forms to enter and import rates."""
    return _render_rates()


@bp.route("/rates/new", methods=["POST"])
@require("currency.rates")
def rate_new() -> Any:
    form = RateForm()
    if form.validate_on_submit():
        with saving(form) as done:
            row = rates.add_rate(_sess(), clean(form.base.data), clean(form.quote.data),
                                 clean(form.rate.data), form.valid_from.data)
        if done.ok:
            flash(_("Rate saved: 1 %(base)s = %(rate)s %(quote)s from %(date)s.",
                    base=row.base, quote=row.quote, rate=format(row.rate.normalize(), "f"),
                    date=row.valid_from.isoformat()), "success")
            return redirect(url_for(".rates", base=row.base, quote=row.quote))
    return _render_rates(rate_form=form, status=form_status(form))


@bp.route("/rates/import", methods=["POST"])
@require("currency.rates")
def rates_import() -> Any:
    """Check a CSV file (every bad row reported) or import it when every row is valid."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.stream.read(MAX_IMPORT_BYTES + 1)
        dry_run = not form.run.data
        sess = _sess()
        if len(data) > MAX_IMPORT_BYTES:
            form.file.errors = [_("The file is larger than 5 MB.")]
        else:
            try:
                report = rates.import_rates_csv(sess, data, dry_run=dry_run, source="import")
                if report["committed"]:
                    sess.commit()
            except ServiceError as exc:
                apply_errors(form, exc)
            finally:
                sess.rollback()  # ends a dry run's transaction; a no-op after commit
        if report is not None and report["committed"]:
            flash(_("%(n)s exchange rates imported.", n=report["imported"]), "success")
            return redirect(url_for(".rates"))
        if report is not None and report["valid"]:
            return _render_rates(import_form=form, report=report)
    return _render_rates(import_form=form, report=report, status=form_status(form))
