"""Currencies, money, exchange rates, conversion, capital numerals and the currency API."""

from __future__ import annotations

import datetime as dt
import io
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from carebiz.currency.codes import check_code, currency_list, minor_unit
from carebiz.currency.format import format_money
from carebiz.currency.models import ExchangeRate
from carebiz.currency.money import Money, quantize
from carebiz.currency.rates import (
    MissingRate,
    add_rate,
    convert,
    convert_amount,
    import_rates_csv,
    rate_on,
    to_base,
    total_in_base,
)
from carebiz.currency.words import chinese_capital
from carebiz.errors import Conflict, ValidationFailed
from carebiz.models import AuditEntry
from tests.conftest import token_for

D = Decimal
JAN1 = dt.date(2026, 1, 1)


# -- codes and money ---------------------------------------------------------------------


def test_minor_units_come_from_babel():
    assert [minor_unit(c) for c in ("JPY", "CNY", "KWD", "USD")] == [0, 2, 3, 2]
    assert check_code(" usd ") == "USD"
    codes = {c["code"]: c for c in currency_list()}
    assert codes["KWD"]["minor_unit"] == 3 and "CNY" in codes


def test_bad_code_names_the_field():
    with pytest.raises(ValidationFailed) as err:
        check_code("XYZ1", "quote")
    assert "quote" in err.value.errors and "XYZ1" in err.value.message


def test_money_is_decimal_with_its_currency():
    a = Money("10.10", "CNY")
    assert a + Money(D("0.20"), "CNY") == Money("10.30", "CNY")
    assert a - Money("0.10", "CNY") == Money(10, "CNY")
    assert a * 3 == Money("30.30", "CNY") and -a == Money("-10.10", "CNY")
    assert sum([a, a]) == Money("20.20", "CNY")
    assert Money("1.005", "CNY").quantize() == Money("1.01", "CNY")
    assert Money("2.5", "JPY").quantize().amount == D(3)
    assert Money("1.0005", "KWD").quantize().amount == D("1.001")
    assert Money("1", "USD") < Money("2", "USD")
    with pytest.raises(ValueError):
        a + Money(1, "USD")
    with pytest.raises(ValueError):
        a < Money(1, "USD")  # noqa: B015
    with pytest.raises(ValidationFailed):
        Money(0.1, "CNY")  # floats never
    with pytest.raises(ValidationFailed):
        Money("NaN", "CNY")
    with pytest.raises(ValidationFailed):
        Money("1", "ZZZ")
    with pytest.raises(AttributeError):
        a.amount = D(1)  # immutable


# -- capital numerals --------------------------------------------------------------------


@pytest.mark.parametrize("amount, words", [
    ("12345.67", "壹万贰仟叁佰肆拾伍元陆角柒分"),
    ("1005.07", "壹仟零伍元零柒分"),
    ("100000", "壹拾万元整"),
    ("0.5", "伍角"),
    ("0.07", "柒分"),
    ("0", "零元整"),
    ("10", "壹拾元整"),
    ("1.50", "壹元伍角"),
    ("-3.20", "负叁元贰角"),
    ("100000001", "壹亿零壹元整"),
    ("100001000", "壹亿零壹仟元整"),
    ("10010000", "壹仟零壹万元整"),
    ("1010101.01", "壹佰零壹万零壹佰零壹元零壹分"),
    ("200000000000", "贰仟亿元整"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("0.005", "壹分"),  # rounded half-up to the fen
])
def test_chinese_capital(amount, words):
    assert chinese_capital(D(amount)) == words


def test_chinese_capital_limits():
    with pytest.raises(ValueError):
        chinese_capital(D("1000000000000"))
    with pytest.raises(ValueError):
        chinese_capital(1.5)


@given(st.decimals(min_value=D("-999999999999.99"), max_value=D("999999999999.99"), places=2))
def test_chinese_capital_is_well_formed(amount):
    words = chinese_capital(amount)
    assert "零零" not in words and not words.rstrip("整").endswith("零")
    assert words.endswith(("整", "角", "分"))
    assert words.startswith("负") == (amount < 0)
    assert ("整" in words) == (amount == amount.to_integral_value())


# -- formatting --------------------------------------------------------------------------


def test_format_money_follows_the_locale():
    assert format_money(D("1234.5"), "CNY", "zh_CN") == "¥1,234.50"
    assert format_money(D("1234.5"), "USD", "zh_CN") == "US$1,234.50"
    assert format_money(Money("1234.5", "EUR"), locale="de_DE").replace("\xa0", " ") \
        == "1.234,50 €"
    assert format_money(D("1234"), "JPY", "ja_JP") == "￥1,234"


# -- rates and conversion ----------------------------------------------------------------


def test_add_rate_validates_and_audits(session):
    row = add_rate(session, "usd", "JPY", "148.50", "2026-01-01")
    session.commit()
    assert (row.base, row.quote, row.rate, row.valid_from) == ("USD", "JPY", D("148.5"), JAN1)
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "exchange_rate")).one()
    assert entry.entity_id == str(row.id) and entry.after["rate"] == "148.50"
    for kwargs, field in [({"rate": "0"}, "rate"), ({"rate": "-1"}, "rate"),
                          ({"rate": "abc"}, "rate"), ({"rate": 1.5}, "rate"),
                          ({"rate": "1.00000000001"}, "rate"),
                          ({"valid_from": "2026-13-01"}, "valid_from"),
                          ({"base": "XXQ"}, "base"), ({"quote": "USD"}, "quote")]:
        args = {"base": "USD", "quote": "CNY", "rate": "7.1", "valid_from": JAN1} | kwargs
        with pytest.raises(ValidationFailed) as err:
            add_rate(session, **args)
        assert field in err.value.errors, kwargs
    with pytest.raises(Conflict):
        add_rate(session, "USD", "JPY", "150", JAN1)


def test_rate_in_force_on_the_date_in_either_direction(session):
    add_rate(session, "USD", "CNY", "7.10", JAN1)
    add_rate(session, "USD", "CNY", "7.20", dt.date(2026, 2, 1))
    add_rate(session, "CNY", "USD", "0.125", dt.date(2026, 3, 1))  # newer, other direction
    session.commit()
    assert rate_on(session, "USD", "CNY", dt.date(2026, 1, 31)) == D("7.10")
    assert rate_on(session, "USD", "CNY", dt.date(2026, 2, 1)) == D("7.20")
    assert rate_on(session, "USD", "CNY", dt.date(2026, 3, 2)) == D(8)
    assert rate_on(session, "CNY", "USD", dt.date(2026, 3, 1)) == D("0.125")
    assert convert(session, Money("71", "CNY"), "USD", "2026-01-15") == Money("10", "USD")
    with pytest.raises(MissingRate) as err:
        rate_on(session, "USD", "CNY", dt.date(2025, 12, 31))
    assert err.value.status == 422
    assert "USD" in err.value.message and "CNY" in err.value.message
    assert "2025-12-31" in err.value.message


def test_missing_rate_is_never_one(session):
    with pytest.raises(MissingRate) as err:
        convert(session, Money("1", "EUR"), "GBP", JAN1)
    assert "EUR" in err.value.message and "GBP" in err.value.message
    assert convert(session, Money("1.005", "EUR"), "EUR", JAN1) == Money("1.01", "EUR")


def test_cross_rate_through_the_base_currency(session):
    # base currency is CNY by default
    add_rate(session, "USD", "CNY", "7.00", JAN1)
    add_rate(session, "JPY", "CNY", "0.05", JAN1)
    session.commit()
    assert rate_on(session, "USD", "JPY", JAN1) == D(140)
    assert convert(session, Money("100", "USD"), "JPY", JAN1) == Money("14000", "JPY")
    assert convert(session, Money("14000", "JPY"), "USD", JAN1) == Money("100.00", "USD")
    with pytest.raises(MissingRate):
        rate_on(session, "USD", "EUR", JAN1)


def test_rounding_is_half_up_to_the_minor_unit(session):
    add_rate(session, "USD", "JPY", "148.50", JAN1)
    add_rate(session, "USD", "KWD", "0.3075", JAN1)
    session.commit()
    assert convert(session, Money("100", "USD"), "JPY", JAN1).amount == D(14850)
    assert convert(session, Money("1", "USD"), "JPY", JAN1).amount == D(149)  # 148.5 up
    assert convert(session, Money("1.01", "USD"), "KWD", JAN1).amount == D("0.311")
    assert convert(session, Money("1.01", "USD"), "KWD", JAN1).amount.as_tuple().exponent == -3


def test_documents_show_base_equivalents_at_their_own_date(session):
    add_rate(session, "USD", "CNY", "7.00", JAN1)
    add_rate(session, "USD", "CNY", "7.50", dt.date(2026, 6, 1))
    add_rate(session, "EUR", "CNY", "8.00", JAN1)
    session.commit()
    assert to_base(session, Money("10", "USD"), dt.date(2026, 6, 2)) == Money("75", "CNY")
    total = total_in_base(session, [(Money("10", "USD"), dt.date(2026, 1, 2)),
                                    (Money("10", "USD"), dt.date(2026, 6, 2)),
                                    (Money("1", "EUR"), dt.date(2026, 6, 2)),
                                    (Money("0.5", "CNY"), dt.date(2020, 1, 1))])
    assert total == Money("153.50", "CNY")


def test_import_rates_csv_reports_every_bad_row(session):
    bad = ("base,quote,rate,valid_from\n"
           "USD,CNY,7.1,2026-01-01\n"
           "USD,XXQ,7.1,2026-01-01\n"
           "USD,CNY,0,2026-01-32\n"
           "USD,CNY,7.2,2026-01-01\n"
           "EUR,EUR,1,2026-01-01\n")
    report = import_rates_csv(session, bad.encode(), dry_run=False)
    assert not report["valid"] and not report["committed"] and report["rows"] == 5
    assert [(e["row"], e["column"]) for e in report["errors"]] == [
        (3, "quote"), (4, "rate"), (4, "valid_from"), (5, "valid_from"), (6, "quote")]
    assert session.scalar(select(ExchangeRate.id)) is None
    good = "\ufeffbase;quote;rate;valid_from\nUSD;CNY;7.1;2026-01-01\nJPY;CNY;0.048;2026-01-01\n"
    report = import_rates_csv(session, good.encode(), dry_run=True)
    assert report["valid"] and not report["committed"] and report["rows"] == 2
    assert session.scalar(select(ExchangeRate.id)) is None
    report = import_rates_csv(session, good.encode(), dry_run=False)
    session.commit()
    assert report["committed"] and report["imported"] == 2
    assert rate_on(session, "JPY", "CNY", JAN1) == D("0.048")
    again = import_rates_csv(session, good.encode(), dry_run=True)
    assert not again["valid"] and len(again["errors"]) == 2
    with pytest.raises(ValidationFailed) as err:
        import_rates_csv(session, b"base,quote\nUSD,CNY\n")
    assert "rate" in err.value.message and "file" in err.value.errors


# -- properties of conversion ------------------------------------------------------------

CURRENCIES = ["CNY", "USD", "JPY", "KWD", "EUR"]
amounts = st.decimals(min_value=D("0"), max_value=D("1000000000"), places=3)
rate_values = st.decimals(min_value=D("0.0001"), max_value=D("10000"), places=4)


def unit(code: str) -> Decimal:
    return D(1).scaleb(-minor_unit(code))


@given(amounts, rate_values, st.sampled_from(CURRENCIES))
def test_rounding_never_loses_a_minor_unit(amount, rate, to):
    result = convert_amount(amount, rate, to)
    exact = amount * rate
    assert result.currency == to and result.is_quantized
    assert abs(result.amount - exact) <= unit(to) / 2
    assert result.amount == exact.quantize(unit(to), rounding=ROUND_HALF_UP)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(CURRENCIES), st.sampled_from(CURRENCIES), rate_values,
       st.decimals(min_value=D("0"), max_value=D("100000000"), places=3))
def test_round_trip_stays_within_rounding(session, a, b, rate, raw):
    if a == b:
        return
    session.query(ExchangeRate).delete()
    add_rate(session, a, b, rate, JAN1)
    money = Money(raw, a).quantize()
    there = convert(session, money, b, JAN1)
    back = convert(session, there, a, JAN1)
    # rounding in b costs at most half a unit of b, i.e. half a unit / rate in a
    bound = unit(a) / 2 + unit(b) / 2 / rate + unit(a) / 2
    assert abs(back.amount - money.amount) <= bound
    assert back.is_quantized and there.is_quantized
    session.rollback()


@given(amounts, st.sampled_from(CURRENCIES))
def test_quantize_is_idempotent(amount, code):
    once = quantize(amount, code)
    assert quantize(once, code) == once and abs(once - amount) <= unit(code) / 2


# -- API ---------------------------------------------------------------------------------


def auth(app, username):
    return {"Authorization": "Bearer " + token_for(app, username)}


def test_api_rates_and_convert(app, seeded):
    client = app.test_client()
    manager, sales = auth(app, "manager"), auth(app, "sales")
    body = {"base": "USD", "quote": "JPY", "rate": "148.50", "valid_from": "2026-01-01"}
    assert client.post("/api/v1/currency/rates", json=body, headers=sales).status_code == 403
    resp = client.post("/api/v1/currency/rates", json=body, headers=manager)
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["rate"] == "148.5" and created["base"] == "USD"
    assert client.post("/api/v1/currency/rates", json=body,
                       headers=manager).status_code == 409
    resp = client.get("/api/v1/currency/convert?amount=100&from=USD&to=JPY&date=2026-01-05",
                      headers=sales)
    assert resp.status_code == 200 and resp.get_json() == {"amount": "14850",
                                                           "currency": "JPY"}
    resp = client.get("/api/v1/currency/convert?amount=14850&from=JPY&to=usd&date=2026-01-05",
                      headers=sales)
    assert resp.get_json() == {"amount": "100.00", "currency": "USD"}
    resp = client.get("/api/v1/currency/convert?amount=1&from=USD&to=JPY&date=2025-12-31",
                      headers=sales)
    assert resp.status_code == 422
    message = resp.get_json()["message"]
    assert "USD" in message and "JPY" in message and "2025-12-31" in message
    page = client.get("/api/v1/currency/rates?base=USD&per_page=1", headers=sales).get_json()
    assert page["total"] == 1 and page["items"][0]["quote"] == "JPY"
    assert client.get("/api/v1/currency/rates?quote=EUR",
                      headers=sales).get_json()["total"] == 0
    currencies = client.get("/api/v1/currency/currencies", headers=sales).get_json()
    assert currencies["base_currency"] == "CNY"
    kwd, = [c for c in currencies["items"] if c["code"] == "KWD"]
    assert kwd["minor_unit"] == 3
    assert client.get("/api/v1/currency/convert?amount=1&from=USD&to=JPY").status_code == 401


@pytest.mark.parametrize("change, field", [
    ({"rate": 148.5}, "rate"), ({"rate": "abc"}, "rate"), ({"rate": "0"}, "rate"),
    ({"rate": "NaN"}, "rate"), ({"base": "QQQ"}, "base"), ({"quote": "USD"}, "quote"),
    ({"valid_from": "2026-02-30"}, "valid_from"), ({"quote": None}, "quote"),
])
def test_api_bad_rate_input_names_the_field(app, seeded, change, field):
    body = {"base": "USD", "quote": "JPY", "rate": "148.50", "valid_from": "2026-01-01"}
    resp = app.test_client().post("/api/v1/currency/rates", json=body | change,
                                  headers=auth(app, "manager"))
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"]


@pytest.mark.parametrize("query, field", [
    ("amount=abc&from=USD&to=JPY", "amount"), ("amount=1&from=US&to=JPY", "from"),
    ("amount=1&from=USD&to=JPY&date=yesterday", "date"), ("from=USD&to=JPY", "amount"),
    ("amount=Infinity&from=USD&to=JPY", "amount"),
])
def test_api_bad_convert_input_names_the_field(app, seeded, query, field):
    resp = app.test_client().get("/api/v1/currency/convert?" + query,
                                 headers=auth(app, "sales"))
    assert resp.status_code == 422 and field in resp.get_json()["errors"]


def test_api_import(app, seeded):
    client = app.test_client()
    headers = auth(app, "manager")

    def upload(text, **form):
        data = {"file": (io.BytesIO(text.encode()), "rates.csv"), **form}
        return client.post("/api/v1/currency/rates/import", data=data, headers=headers,
                           content_type="multipart/form-data")

    csv_text = "base,quote,rate,valid_from\nUSD,CNY,7.1,2026-01-01\nEUR,CNY,x,2026-01-01\n"
    report = upload(csv_text).get_json()
    assert report["valid"] is False and report["errors"] == [
        {"row": 3, "column": "rate", "reason": report["errors"][0]["reason"]}]
    good = "base,quote,rate,valid_from\nUSD,CNY,7.1,2026-01-01\n"
    assert upload(good).get_json()["committed"] is False
    assert client.get("/api/v1/currency/rates", headers=headers).get_json()["total"] == 0
    report = upload(good, dry_run="false").get_json()
    assert report["committed"] is True and report["imported"] == 1
    assert client.get("/api/v1/currency/rates", headers=headers).get_json()["total"] == 1
    resp = upload("nothing,here\n1,2\n")
    assert resp.status_code == 422 and "file" in resp.get_json()["errors"]
    resp = client.post("/api/v1/currency/rates/import", data={"file": (
        io.BytesIO(good.encode()), "r.csv")}, headers=auth(app, "sales"),
        content_type="multipart/form-data")
    assert resp.status_code == 403
