"""Units: categories, pint conversions, fuel economy (inverse), packaging units, unit prices,
the units API; property-based round trips."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carebiz.errors import Conflict, ValidationFailed
from carebiz.models import AuditEntry
from carebiz.units import registry, services
from carebiz.units.quantity import Quantity
from tests.conftest import login, token_for

D = Decimal
#: a value converted there and back equals the original within this relative error
ROUND_TRIP = D(10) ** -(registry.SIGNIFICANT_DIGITS - 1)

LINEAR_PAIRS = [("km", "mi"), ("L", "gal"), ("kg", "lb"), ("km/h", "mph"), ("kPa", "psi"),
                ("kW", "hp"), ("h", "min"), ("m**2", "ft**2"), ("dozen", "piece"),
                ("mm", "in"), ("L", "imperial_gallon")]
FUEL_PAIRS = [("L/100km", "mpg"), ("L/100km", "km/L"), ("mpg", "km/L"), ("mpg_imp", "mpg")]

values = st.decimals(min_value=D("0.000001"), max_value=D("1e9"), allow_nan=False,
                     allow_infinity=False, places=6).filter(lambda d: d > 0)


def close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= abs(b) * ROUND_TRIP


# --- registry --------------------------------------------------------------------------


def test_known_conversions_are_exact_decimals() -> None:
    assert registry.convert("10", "km", "mi") == D("6.21371192237")
    assert registry.convert("10", "km", "mi", digits=6) == D("6.21371")
    assert registry.convert("1", "mi", "km") == D("1.609344")
    assert registry.convert("1", "gal", "L") == D("3.785411784")
    assert registry.convert("3", "dozen", "piece") == D(36)
    assert registry.convert("1", "count", "piece") == D(1)
    assert registry.convert("2.2", "bar", "kPa") == D(220)
    assert registry.to_text(registry.convert("1", "km", "m")) == "1000"
    assert registry.to_text(registry.convert("1", "mm", "km")) == "0.000001"


def test_fuel_economy_is_inverse() -> None:
    assert registry.convert("8", "L/100km", "km/L") == D("12.5")
    assert registry.convert("12.5", "km/L", "L/100km") == D(8)
    mpg = registry.convert("8", "L/100km", "mpg")
    assert mpg == D("29.4018229167")
    assert close(registry.convert("4", "L/100km", "mpg"), mpg * 2)
    assert registry.convert("10", "l/100 km", "L/100km") == D(10)
    with pytest.raises(ValidationFailed) as info:
        registry.convert("0", "L/100km", "mpg")
    assert "value" in info.value.errors


def test_unknown_unit_names_the_field_and_lists_known_units() -> None:
    with pytest.raises(ValidationFailed) as info:
        registry.convert("1", "furlongz", "m")
    assert set(info.value.errors) == {"from"}
    assert "furlongz" in info.value.message and "km" in info.value.message
    with pytest.raises(ValidationFailed) as info:
        registry.convert("1", "m", "percent")  # dimensionless but no count unit
    assert set(info.value.errors) == {"to"}
    for odd in ("1000*m", "", "m; drop", "degC", "__import__", "m" * 60):
        with pytest.raises(ValidationFailed):
            registry.convert("1", odd, "m")


def test_across_categories_is_refused_naming_both() -> None:
    with pytest.raises(ValidationFailed) as info:
        registry.convert("1", "km", "L")
    assert info.value.message == "Cannot convert length to volume."
    assert info.value.details == {"from_category": "length", "to_category": "volume"}
    with pytest.raises(ValidationFailed, match="fuel economy"):
        registry.convert("1", "mpg", "km")


def test_bad_values() -> None:
    for bad in ("abc", "NaN", "Infinity", None, ""):
        with pytest.raises(ValidationFailed) as info:
            registry.convert(bad, "km", "mi")
        assert "value" in info.value.errors


def test_round_significant_and_text() -> None:
    assert registry.round_significant(D("9.9999999999999"), 12) == D(10)
    assert registry.round_significant(D("123456789012345"), 12) == D("123456789012000")
    assert registry.to_text(registry.round_significant(D("123456789012345"))) == \
        "123456789012000"
    assert registry.to_text(D(0)) == "0"
    assert registry.to_text(D("1.50")) == "1.5"


def test_categories_list_reference_units() -> None:
    cats = {c["name"]: c for c in registry.categories({"box12": ("piece", D(12))})}
    assert {"count", "length", "volume", "mass", "time", "speed", "fuel_economy"} <= set(cats)
    assert cats["length"]["reference"] == "m"
    assert "box12" in cats["count"]["units"]
    for cat in cats.values():
        for unit in cat["units"]:
            assert registry.resolve(unit, packaging={"box12": ("piece", D(12))}).category \
                == cat["name"]


def test_quantity() -> None:
    q = Quantity(D("10"), "km")
    assert q.to("mi") == Quantity(D("6.21371192237"), "mi")
    assert q.to("km") is q
    assert Quantity(D(2), "box12").to("piece", {"box12": ("piece", D(12))}).value == 24
    assert Quantity(D("6.2137100"), "mi").as_json() == {"value": "6.21371", "unit": "mi"}
    assert str(Quantity("1.50", "L")) == "1.5 L"
    with pytest.raises(AttributeError):
        q.value = D(1)  # type: ignore[misc]


# --- property-based round trips -----------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(value=values, pair=st.sampled_from(LINEAR_PAIRS + FUEL_PAIRS))
def test_round_trip(value: Decimal, pair: tuple[str, str]) -> None:
    there = registry.convert(value, *pair)
    back = registry.convert(there, pair[1], pair[0])
    assert close(back, value), (value, there, back)


@settings(max_examples=200, deadline=None)
@given(value=values, pair=st.sampled_from(LINEAR_PAIRS))
def test_linear_conversion_scales(value: Decimal, pair: tuple[str, str]) -> None:
    one = registry.convert(1, *pair)
    assert close(registry.convert(value, *pair), value * one)


@settings(max_examples=100, deadline=None)
@given(value=values)
def test_fuel_inverse_property(value: Decimal) -> None:
    # L/100km × km/L = 100, within the precision
    km_per_l = registry.convert(value, "L/100km", "km/L")
    assert abs(value * km_per_l - 100) <= 100 * ROUND_TRIP


@settings(max_examples=100, deadline=None)
@given(value=values, factor=st.integers(min_value=1, max_value=1000))
def test_packaging_round_trip(value: Decimal, factor: int) -> None:
    table = {"pack": ("L", D(factor))}
    there = registry.convert(value, "pack", "gal", table)
    assert close(registry.convert(there, "gal", "pack", table), value)


# --- services -----------------------------------------------------------------------------


def test_packaging_units_convert(session: Any) -> None:
    box = services.define_packaging_unit(session, "box12", "Box of 12", "piece", D(12))
    services.define_packaging_unit(session, "drum200", "Drum of 200 L", "L", "200")
    services.define_packaging_unit(session, "pallet", "", "box12", 40)
    session.commit()
    assert box.id and box.factor == 12
    assert services.convert(session, "2", "box12", "piece") == 24
    assert services.convert(session, "36", "piece", "box12") == 3
    assert services.convert(session, "1", "pallet", "piece") == 480
    assert services.convert(session, "1", "drum200", "gal") == D("52.8344104716")
    assert services.category_of(session, "drum200") == "volume"
    with pytest.raises(ValidationFailed) as info:
        services.convert(session, "1", "box12", "drum200")
    assert info.value.message == "Cannot convert count to volume."
    entry = session.query(AuditEntry).filter_by(entity_type="packaging_unit").first()
    assert entry.event == "units.packaging_defined"
    assert entry.after["factor"] == "12" and entry.summary_args["name"] == "box12"


def test_define_packaging_unit_validation(session: Any) -> None:
    services.define_packaging_unit(session, "box12", "Box", "piece", 12)
    session.commit()
    cases = [
        (dict(name="box6", base_unit="nope", factor=6), "base_unit"),
        (dict(name="box6", base_unit="piece", factor=0), "factor"),
        (dict(name="box6", base_unit="piece", factor=-2), "factor"),
        (dict(name="box6", base_unit="piece", factor="x"), "factor"),
        (dict(name="box6", base_unit="piece", factor="1e20"), "factor"),
        (dict(name="box6", base_unit="piece", factor="0.00000000001"), "factor"),
        (dict(name="box6", base_unit="mpg", factor=2), "base_unit"),
        (dict(name="km", base_unit="m", factor=1000), "name"),
        (dict(name="gallon", base_unit="L", factor=4), "name"),
        (dict(name="L/100km", base_unit="L", factor=4), "name"),
        (dict(name="6box", base_unit="piece", factor=6), "name"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationFailed) as info:
            services.define_packaging_unit(session, label="", **kwargs)
        assert field in info.value.errors, (kwargs, info.value.errors)
    with pytest.raises(Conflict):
        services.define_packaging_unit(session, "BOX12", "", "piece", 12)


def test_price_per_converts_inversely(session: Any) -> None:
    services.define_packaging_unit(session, "box12", "Box", "piece", 12)
    services.define_packaging_unit(session, "drum200", "Drum", "L", 200)
    price = services.price_per(session, D(120), "CNY", "box12", "piece")
    assert price.amount == 10 and price.currency == "CNY" and price.unit == "piece"
    assert price.as_json() == {"amount": "10", "currency": "CNY", "unit": "piece"}
    assert services.price_per(session, D(10), "CNY", "piece", "box12").amount == 120
    assert services.price_per(session, D(1000), "CNY", "drum200", "L").amount == 5
    assert services.price_per(session, D("1.5"), "USD", "L", "gal").amount == \
        D("5.678117676")
    with pytest.raises(ValidationFailed, match="Cannot convert count to volume"):
        services.price_per(session, D(1), "CNY", "box12", "L")
    with pytest.raises(ValidationFailed):
        services.price_per(session, D(1), "CNY", "mpg", "km/L")


# --- API ----------------------------------------------------------------------------------


@pytest.fixture
def api(app: Any, seeded: dict[str, Any]) -> Any:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for(app, 'manager')}"}

    class Api:
        def get(self, url: str) -> Any:
            return client.get(url, headers=headers)

        def post(self, url: str, json: Any) -> Any:
            return client.post(url, json=json, headers=headers)

    return Api()


def test_api_convert(api: Any) -> None:
    resp = api.get("/api/v1/units/convert?value=10&from=km&to=mi")
    assert resp.status_code == 200, resp.json
    assert resp.json == {"value": "6.21371", "unit": "mi"}
    resp = api.get("/api/v1/units/convert?value=10&from=km&to=mi&digits=12")
    assert resp.json["value"] == "6.21371192237"
    resp = api.get("/api/v1/units/convert?value=8&from=L/100km&to=mpg")
    assert resp.json == {"value": "29.4018", "unit": "mpg"}


def test_api_convert_errors(api: Any) -> None:
    resp = api.get("/api/v1/units/convert?value=1&from=zorg&to=mi")
    assert resp.status_code == 422
    assert set(resp.json["errors"]) == {"from"} and "km" in resp.json["errors"]["from"][0]
    assert "km" in resp.json["known_units"]
    resp = api.get("/api/v1/units/convert?value=1&from=km&to=zorg")
    assert resp.status_code == 422 and set(resp.json["errors"]) == {"to"}
    resp = api.get("/api/v1/units/convert?value=1&from=km&to=L")
    assert resp.status_code == 422
    assert resp.json["message"] == "Cannot convert length to volume."
    resp = api.get("/api/v1/units/convert?value=abc&from=km&to=mi")
    assert resp.status_code == 422 and "value" in resp.json["errors"]
    resp = api.get("/api/v1/units/convert?value=1&to=mi")
    assert resp.status_code == 422 and "from" in resp.json["errors"]
    resp = api.get("/api/v1/units/convert?value=1&from=km&to=mi&digits=99")
    assert resp.status_code == 422 and "digits" in resp.json["errors"]


def test_api_needs_login(app: Any, seeded: dict[str, Any]) -> None:
    resp = app.test_client().get("/api/v1/units/convert?value=1&from=km&to=mi")
    assert resp.status_code == 401


def test_api_packaging(api: Any, app: Any) -> None:
    resp = api.post("/api/v1/units/packaging",
                    {"name": "box12", "label": "Box of 12", "base_unit": "piece",
                     "factor": "12"})
    assert resp.status_code == 201, resp.json
    assert resp.json["factor"] == "12" and resp.json["category"] == "count"
    resp = api.post("/api/v1/units/packaging",
                    {"name": "drum200", "base_unit": "L", "factor": 200})
    assert resp.status_code == 422  # decimals travel as strings, as the document says
    assert resp.json["errors"]["factor"] == ['Send decimals as strings, e.g. "148.50".']
    resp = api.post("/api/v1/units/packaging",
                    {"name": "drum200", "base_unit": "L", "factor": "200"})
    assert resp.status_code == 201, resp.json
    resp = api.post("/api/v1/units/packaging",
                    {"name": "box12", "base_unit": "piece", "factor": "12"})
    assert resp.status_code == 409
    resp = api.post("/api/v1/units/packaging", {"name": "x", "base_unit": "nope",
                                                "factor": "0"})
    assert resp.status_code == 422
    assert {"base_unit", "factor"} <= set(resp.json["errors"])
    resp = api.get("/api/v1/units/packaging")
    assert [u["name"] for u in resp.json] == ["box12", "drum200"]
    resp = api.get("/api/v1/units/convert?value=2&from=box12&to=piece")
    assert resp.json == {"value": "24", "unit": "piece"}
    resp = api.get("/api/v1/units/convert?value=1&from=box12&to=drum200")
    assert resp.status_code == 422
    assert resp.json["message"] == "Cannot convert count to volume."
    cats = {c["name"]: c for c in api.get("/api/v1/units/categories").json}
    assert "drum200" in cats["volume"]["units"] and cats["volume"]["reference"] == "L"


def test_api_packaging_needs_permission(app: Any, seeded: dict[str, Any]) -> None:
    client = app.test_client()
    login(client, "sales")
    resp = client.post("/api/v1/units/packaging",
                       json={"name": "box6", "base_unit": "piece", "factor": 6})
    assert resp.status_code == 403
    assert client.get("/api/v1/units/packaging").status_code == 200
