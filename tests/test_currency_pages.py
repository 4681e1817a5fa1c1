"""The currency and units pages: currency list, exchange rates (list, entry with errors next to
the fields, CSV import dry run), the money converter (locale formatting, Chinese capitals,
missing rates), the units page (categories, converter, packaging units) and permissions."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import io
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_name
from flask import Flask

from carebiz.currency import rates
from tests.conftest import login


def text(resp: Any) -> str:
    """The page with HTML entities decoded, so assertions read like the screen."""
    return html_lib.unescape(resp.get_data(as_text=True))


def client_for(app: Flask, username: str) -> Any:
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def store_rate(app: Flask, base: str, quote: str, rate: str, day: dt.date) -> None:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        rates.add_rate(sess, base, quote, Decimal(rate), day)
        sess.commit()


# -- the pages render -------------------------------------------------------------------------


def test_pages_render_for_every_user(app: Flask, seeded: dict[str, Any]) -> None:
    for user in ("admin", "manager", "sales", "viewer"):
        client = client_for(app, user)
        for url in ("/currency/", "/currency/rates", "/units/"):
            resp = client.get(url)
            assert resp.status_code == 200, (user, url)
        page = text(client.get("/currency/rates"))
        assert "Base currency of the company: CNY" in page
        assert ('data-testid="rate-form"' in page) == (user in ("admin", "manager"))
        assert ('data-testid="import-form"' in page) == (user in ("admin", "manager"))
        units = text(client.get("/units/"))
        assert ('data-testid="packaging-form"' in units) == (user in ("admin", "manager"))


def test_pages_need_a_login(app: Flask, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    for url in ("/currency/", "/currency/rates", "/units/"):
        assert client.get(url).status_code in (302, 401)


def test_menu_links(app: Flask, seeded: dict[str, Any]) -> None:
    page = text(client_for(app, "viewer").get("/currency/"))
    assert 'data-menu="currency.rates"' in page
    assert 'data-menu="units.index"' in page


def test_currency_list_marks_the_base_and_speaks_the_language(app: Flask,
                                                              seeded: dict[str, Any]) -> None:
    client = client_for(app, "sales")
    page = text(client.get("/currency/"))
    assert 'data-currency="JPY"' in page and "Japanese Yen" in page
    assert 'data-testid="base-badge"' in page
    row = page.split('data-currency="CNY"', 1)[1].split("</tr>", 1)[0]
    assert "Base currency" in row and "Chinese Yuan" in row
    jpy = page.split('data-currency="JPY"', 1)[1].split("</tr>", 1)[0]
    assert ">0<" in jpy.replace(" ", "")
    found = text(client.get("/currency/?q=yen"))
    assert 'data-currency="JPY"' in found and 'data-currency="USD"' not in found
    client.post("/language/zh_CN", data={"next": "/currency/"})
    zh = client.get("/currency/")
    assert '<html lang="zh-CN">' in zh.get_data(as_text=True)
    assert get_currency_name("JPY", locale="zh_CN") in text(zh)


# -- entering rates ---------------------------------------------------------------------------


def test_manager_enters_a_rate(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = client.post("/currency/rates/new", data={
        "base": "usd", "quote": "JPY", "rate": "148.50", "valid_from": "2026-01-02"})
    assert resp.status_code == 302
    page = text(client.get(resp.headers["Location"]))
    assert "USD/JPY" in page and "148.5" in page
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert rates.rate_on(sess, "USD", "JPY", "2026-01-05") == Decimal("148.5")


def test_sales_may_not_enter_or_import_rates(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "sales")
    resp = client.post("/currency/rates/new", data={
        "base": "USD", "quote": "JPY", "rate": "148.50", "valid_from": "2026-01-02"})
    assert resp.status_code == 403
    resp = client.post("/currency/rates/import", data={
        "file": (io.BytesIO(b"base,quote,rate,valid_from\n"), "r.csv")},
        content_type="multipart/form-data")
    assert resp.status_code == 403


def test_bad_rate_is_refused_next_to_the_field(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = client.post("/currency/rates/new", data={
        "base": "USD", "quote": "JPY", "rate": "-3", "valid_from": "2026-01-02"})
    assert resp.status_code == 422
    page = text(resp)
    assert "A rate must be greater than zero." in page
    assert 'value="-3"' in page and 'value="USD"' in page  # typed values kept
    resp = client.post("/currency/rates/new", data={
        "base": "XYZ", "quote": "JPY", "rate": "1", "valid_from": "2026-01-02"})
    assert resp.status_code == 422
    assert "'XYZ' is not an ISO 4217 currency code" in text(resp)


def test_duplicate_rate_is_refused(app: Flask, seeded: dict[str, Any]) -> None:
    store_rate(app, "USD", "JPY", "148.50", dt.date(2026, 1, 2))
    client = client_for(app, "manager")
    resp = client.post("/currency/rates/new", data={
        "base": "USD", "quote": "JPY", "rate": "149", "valid_from": "2026-01-02"})
    assert resp.status_code == 422
    assert "exists already" in text(resp)


def test_rate_list_filters_by_pair_newest_first(app: Flask, seeded: dict[str, Any]) -> None:
    store_rate(app, "USD", "JPY", "148.50", dt.date(2026, 1, 2))
    store_rate(app, "USD", "JPY", "150", dt.date(2026, 2, 2))
    store_rate(app, "EUR", "CNY", "7.8", dt.date(2026, 1, 3))
    client = client_for(app, "viewer")
    page = text(client.get("/currency/rates?base=USD&quote=JPY"))
    table = page.split('data-testid="rate-list"', 1)[1].split("</table>", 1)[0]
    assert "EUR/CNY" not in table
    assert table.index("150") < table.index("148.5")
    everything = text(client.get("/currency/rates"))
    assert "EUR/CNY" in everything
    bad = text(client.get("/currency/rates?base=XX"))
    assert "'XX' is not an ISO 4217 currency code" in bad


# -- converter --------------------------------------------------------------------------------


def test_convert_usd_to_jpy(app: Flask, seeded: dict[str, Any]) -> None:
    store_rate(app, "USD", "JPY", "148.50", dt.date(2026, 1, 1))
    client = client_for(app, "viewer")
    resp = client.get("/currency/rates?amount=100&from_currency=USD&to_currency=JPY"
                      "&on_date=2026-01-05")
    assert resp.status_code == 200
    result = text(resp).split('data-testid="convert-result"', 1)[1]
    assert "14,850" in result
    assert "capital" not in result.split("</div>", 1)[0]


def test_missing_rate_names_the_pair_and_date(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "viewer")
    resp = client.get("/currency/rates?amount=100&from_currency=USD&to_currency=EUR"
                      "&on_date=2026-01-05")
    assert resp.status_code == 422
    page = text(resp)
    assert "No exchange rate from USD to EUR on 2026-01-05." in page
    assert 'data-testid="convert-result"' not in page
    assert 'value="100"' in page


def test_capital_amount_for_cny(app: Flask, seeded: dict[str, Any]) -> None:
    store_rate(app, "USD", "CNY", "7.1", dt.date(2026, 1, 1))
    client = client_for(app, "viewer")
    resp = client.get("/currency/rates?amount=100&from_currency=USD&to_currency=CNY"
                      "&on_date=2026-01-05")
    assert resp.status_code == 200
    page = text(resp)
    assert "柒佰壹拾元整" in page
    assert "CN¥710.00" in page or "¥710.00" in page


def test_convert_bad_amount_next_to_the_field(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "viewer")
    resp = client.get("/currency/rates?amount=abc&from_currency=USD&to_currency=CNY")
    assert resp.status_code == 422
    assert "'abc' is not a number." in text(resp)


# -- import -----------------------------------------------------------------------------------


CSV_BAD = ("base,quote,rate,valid_from\n"
           "USD,CNY,7.1,2026-01-01\n"
           "USD,XYZ,7.2,2026-01-02\n"
           "EUR,CNY,-1,2026-01-02\n")
CSV_GOOD = "base,quote,rate,valid_from\nUSD,CNY,7.1,2026-01-01\nEUR,CNY,7.8,2026-01-01\n"


def upload(client: Any, body: str, button: str) -> Any:
    return client.post("/currency/rates/import", data={
        "file": (io.BytesIO(body.encode()), "rates.csv"), button: "1"},
        content_type="multipart/form-data")


def test_import_dry_run_lists_every_bad_row(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = upload(client, CSV_BAD, "run")
    assert resp.status_code == 422
    report = text(resp).split('data-testid="import-report"', 1)[1]
    assert 'data-row="3"' in report and 'data-row="4"' in report
    assert 'data-row="2"' not in report
    assert "'XYZ' is not an ISO 4217 currency code" in report
    assert "A rate must be greater than zero." in report
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert rates.find_rate(sess, "USD", "CNY", dt.date(2026, 1, 5)) is None


def test_import_checks_then_stores(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = upload(client, CSV_GOOD, "check")
    assert resp.status_code == 200
    assert "All 2 rows are valid" in text(resp)
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert rates.find_rate(sess, "USD", "CNY", dt.date(2026, 1, 5)) is None
    resp = upload(client, CSV_GOOD, "run")
    assert resp.status_code == 302
    assert "2 exchange rates imported." in text(client.get(resp.headers["Location"]))
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        assert rates.find_rate(sess, "EUR", "CNY", dt.date(2026, 1, 5)) == Decimal("7.8")


def test_import_without_columns(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = upload(client, "a,b\n1,2\n", "check")
    assert resp.status_code == 422
    assert "The file lacks the columns" in text(resp)


# -- units ------------------------------------------------------------------------------------


def test_units_page_lists_categories(app: Flask, seeded: dict[str, Any]) -> None:
    page = text(client_for(app, "viewer").get("/units/"))
    row = page.split('data-category="length"', 1)[1].split("</tr>", 1)[0]
    assert ">m<" in row and "km" in row and "mi" in row
    assert 'data-category="fuel_economy"' in page


def test_units_convert_km_to_mi(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "viewer")
    resp = client.get("/units/?value=10&from_unit=km&to_unit=mi")
    assert resp.status_code == 200
    assert 'data-value="6.21371"' in text(resp)
    assert "6.21371 mi" in text(resp)


def test_units_refuse_cross_category(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "viewer")
    resp = client.get("/units/?value=10&from_unit=km&to_unit=L")
    assert resp.status_code == 422
    page = text(resp)
    assert "Cannot convert length to volume." in page
    assert 'value="km"' in page and 'value="L"' in page
    resp = client.get("/units/?value=10&from_unit=furlongz&to_unit=L")
    assert resp.status_code == 422
    assert "Unknown unit 'furlongz'" in text(resp)


def test_packaging_unit_defined_and_converted(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = client.post("/units/packaging", data={
        "name": "box12", "label": "Box of 12", "base_unit": "piece", "factor": "12"})
    assert resp.status_code == 302
    page = text(client.get("/units/"))
    assert 'data-packaging="box12"' in page and "1 box12 = 12 piece" in page
    resp = client_for(app, "viewer").get("/units/?value=3&from_unit=box12&to_unit=piece")
    assert resp.status_code == 200
    assert 'data-value="36"' in text(resp)
    resp = client.get("/units/?value=1&from_unit=box12&to_unit=L")
    assert resp.status_code == 422
    assert "Cannot convert count to volume." in text(resp)


def test_packaging_unit_errors_and_permission(app: Flask, seeded: dict[str, Any]) -> None:
    client = client_for(app, "manager")
    resp = client.post("/units/packaging", data={
        "name": "km", "label": "", "base_unit": "mpg", "factor": "0"})
    assert resp.status_code == 422
    page = text(resp)
    assert "is already a physical unit" in page
    assert "A fuel economy cannot be packed" in page
    assert "Greater than 0" in page
    resp = client_for(app, "sales").post("/units/packaging", data={
        "name": "box6", "base_unit": "piece", "factor": "6"})
    assert resp.status_code == 403
