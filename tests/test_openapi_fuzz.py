"""Schemathesis over the whole OpenAPI document with every check (``st run --checks all``).

The app runs as in production (CSRF on, errors handled rather than raised) behind a real HTTP
server on 127.0.0.1, with a little data so that item paths answer 200 too. Schemathesis loads
the document the app serves and runs all its phases — examples, coverage (boundaries, wrong
types, missing bodies and headers, undeclared methods), fuzzing and stateful links — and every
check on every answer: no 5xx, status codes, content types, headers (``Allow`` on 405) and
bodies as documented, invalid data refused, valid data accepted, 401 without credentials.

The budget is bounded (few examples per operation, a fixed seed and derandomised generation),
so the run is repeatable and a failure names a request that fails again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.conftest import seed, token_for
from tests.crm_helpers import valid_vin

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.engine import events, from_schema  # noqa: E402
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

SEED = 20260101
#: examples per operation in the fuzzing phase; the coverage phase sends its own fixed set
MAX_EXAMPLES = 4

#: ``positive_data_acceptance`` expects a 2xx for data the document calls valid. These
#: operations may answer 422 to such data because a business rule decides that no schema
#: can state; each answer still has to be a documented, well-formed error (the other checks).
#: The CRM's schemas check types on purpose and leave the rules to the services that pages,
#: importers and the API share (see carebiz.crm.schemas).
RULES_BEYOND_THE_SCHEMA = {
    "POST /api/v1/customers": "names by kind, phone and ID formats, the branch must be yours",
    "PATCH /api/v1/customers/{party_id}": "as on create",
    "POST /api/v1/customers/merge": "both records must exist, be visible and differ",
    "POST /api/v1/customers/{party_id}/contacts": "the person must exist; persons only",
    "POST /api/v1/customers/{party_id}/timeline": "kinds are registered by plugins; tasks "
                                                  "need due_at; the vehicle must exist",
    "POST /api/v1/timeline/{entry_id}/complete": "only open tasks and return visits close",
    "POST /api/v1/vehicles": "the VIN check digit, plate formats, the owner must exist",
    "PATCH /api/v1/vehicles/{vehicle_id}": "as on create",
    "POST /api/v1/vehicles/{vehicle_id}/owner": "the owner must exist and be active",
    "POST /api/v1/vehicles/{vehicle_id}/odometer": "a reading may not go backwards",
    "POST /api/v1/custom-fields": "names are unique per record kind; choices for choice",
    "GET /api/v1/lookup": "q or phone is required (OpenAPI 3.0 cannot say one of two)",
    "POST /api/v1/import/customers": "the file must be a readable CSV or Excel file",
    "POST /api/v1/currency/rates": "the codes must exist in ISO 4217 and differ",
    "POST /api/v1/currency/rates/import": "the file must be a CSV of rates",
    "GET /api/v1/currency/rates": "the codes must exist in ISO 4217",
    "GET /api/v1/currency/convert": "the codes must exist; a rate must be in force",
    "GET /api/v1/units/convert": "units are known at run time (packaging units are data)",
    "POST /api/v1/units/packaging": "the base unit must be known and countable",
    "POST /api/v1/query/{source}": "fields and operators are those of the source",
    "POST /api/v1/query/{source}/aggregate": "fields and measures are those of the source",
    "POST /api/v1/query/saved": "the definition must be a valid query of the source",
    "PUT /api/v1/query/saved/{saved_id}": "as on create",
    "POST /api/v1/tokens": "an expiry must lie in the future",
    "POST /api/v1/users": "roles and branches must exist; password rules",
    "POST /api/v1/branches": "codes are unique",
    "POST /api/v1/jobs": "parameters are those of the task",
    "POST /api/v1/documents/{type_name}/batch": "the records must exist and be visible",
    "GET /api/v1/documents/{type_name}/{record_id}": "formats and papers of the document "
                                                     "type",
    # the sales plugin (installed with the platform): configured lists and states
    "POST /api/v1/sales/prospects": "sources and points of interest are settings; the phone "
                                    "format; the branch and salesperson must be yours",
    "PATCH /api/v1/sales/prospects/{prospect_id}": "as on create",
    "POST /api/v1/sales/prospects/{prospect_id}/close": "a lost reason from the setting's list",
    "POST /api/v1/sales/return-visits": "the assignee must work in the prospect's branch",
    "POST /api/v1/sales/return-visits/{visit_id}/done": "an appointment needs its time",
    "POST /api/v1/sales/showroom-visits": "the customer and prospect must be visible; party "
                                          "size 1 to 50",
    "POST /api/v1/sales/test-drives": "a demo car; a valid licence; at most 12 hours",
    "POST /api/v1/sales/test-drives/{drive_id}/{action}": "the waiver; the odometer may not "
                                                          "go backwards",
    "GET /api/v1/sales/prospects": "a date range's start may not follow its end",
    "GET /api/v1/sales/return-visits": "as for prospects",
    "GET /api/v1/sales/showroom-visits": "as for prospects",
    "GET /api/v1/sales/test-drives": "as for prospects",
    # the sales plugin's commerce: VINs, currencies, branches, customers and every status move are
    # the services' rules (an illegal move is a documented 409, a broken rule a 422)
    "POST /api/v1/sales/stock": "the VIN check digit, ISO currency, a branch of yours",
    "POST /api/v1/sales/stock/{stock_id}/ship": "only an ordered car ships",
    "POST /api/v1/sales/stock/{stock_id}/receive": "only a car on its way arrives",
    "POST /api/v1/sales/stock/{stock_id}/transfer": "a branch of yours, not the car's own",
    "POST /api/v1/sales/quotations": "a visible customer and car, lines that total ≥ 0",
    "POST /api/v1/sales/quotations/{quotation_id}/revisions": "as on create; open only",
    "POST /api/v1/sales/quotations/{quotation_id}/approve": "pending ones, within your limit",
    "POST /api/v1/sales/quotations/{quotation_id}/decline": "open or pending ones only",
    "POST /api/v1/sales/quotations/{quotation_id}/accept": "open, unexpired ones only",
    "POST /api/v1/sales/orders/{order_id}/payments": "at most what is outstanding; a rate",
    "POST /api/v1/sales/orders/{order_id}/allocate": "a visible car in stock, order without",
    "POST /api/v1/sales/orders/{order_id}/inspect": "the car must stand reserved",
    "POST /api/v1/sales/orders/{order_id}/register": "a car must be allocated",
    "POST /api/v1/sales/orders/{order_id}/cancel": "a reason; open orders only",
    "POST /api/v1/sales/orders/{order_id}/deliver": "ready and paid, or a manager's reason",
    "POST /api/v1/sales/purchase-orders": "a visible supplier in the supplier role",
    "POST /api/v1/sales/purchase-orders/{po_id}/receive": "lines of the order, valid VINs",
    "POST /api/v1/sales/purchase-orders/{po_id}/payments": "at most what is owed",
    "POST /api/v1/sales/purchase-orders/{po_id}/cancel": "nothing received yet",
    "POST /api/v1/sales/supplier-quotes": "a visible supplier in the supplier role",
    "POST /api/v1/sales/supplier-quotes/{quote_id}/price": "requested or quoted ones",
    "POST /api/v1/sales/supplier-quotes/{quote_id}/order": "quoted, unexpired ones",
    # the sales pipeline: stages are configured per branch and make
    "POST /api/v1/sales/opportunities": "a visible customer, a branch and salesperson of "
                                        "yours, a stage of the pipeline, an ISO currency",
    "PATCH /api/v1/sales/opportunities/{opportunity_id}": "as on create",
    "POST /api/v1/sales/opportunities/{opportunity_id}/move": "a stage of its pipeline; lost "
                                                              "needs a configured reason",
    "POST /api/v1/sales/opportunities/{opportunity_id}/lost": "a reason from the setting",
    "PUT /api/v1/sales/pipeline/stages": "unique codes, open stages, one won and one lost; "
                                         "a version not the set's is a 409",
    "GET /api/v1/sales/opportunities": "a date range's start may not follow its end",
    # the GPS plugin: IMEI check digits, visible vehicles, geometry and periods are the
    # services' rules (a state move is a documented 409, a broken rule a 422)
    "POST /api/v1/gps/devices": "15 digits with a valid check digit; a visible vehicle",
    "PATCH /api/v1/gps/devices/{device_id}": "limits, protocols and a visible vehicle",
    "POST /api/v1/gps/devices/{device_id}/assign": "pending devices only; a visible vehicle",
    "POST /api/v1/gps/devices/{device_id}/{action}": "disable active, enable disabled ones",
    "GET /api/v1/gps/positions": "a device or vehicle; from before to, at most 31 days",
    "GET /api/v1/gps/trips": "from before to, at most 31 days",
    "GET /api/v1/gps/stops": "from before to, at most 31 days",
    "GET /api/v1/gps/mileage": "from before to, at most 400 days",
    "GET /api/v1/gps/alarms": "from before to, at most 31 days",
    "POST /api/v1/gps/alarms/{alarm_id}/acknowledge": "open alarms only",
    "POST /api/v1/gps/geofences": "GeoJSON of the kind, a closed valid polygon, radius or "
                                  "half-width, a schedule of weekdays and HH:MM hours",
    "PUT /api/v1/gps/geofences/{fence_id}": "as on create",
    "POST /api/v1/gps/groups": "limits within their ranges, allowed hours as a schedule",
    "PUT /api/v1/gps/groups/{group_id}": "as on create",
    "POST /api/v1/gps/commands": "an active device; the plate or IMEI typed to confirm",
    "POST /api/v1/gps/commands/{command_id}/cancel": "queued commands only",

    # the gps plugin's waybills and subscriptions
    "POST /api/v1/gps/waybills": "a visible shipper and vehicle, a branch of yours, names "
                                 "and goods that are not blank",
    "POST /api/v1/gps/waybills/scan": "the code must be a waybill number (WB, a date, a "
                                      "counter); notes are printable text",
    "POST /api/v1/gps/waybills/{waybill_id}/status": "notes are printable text",
    "POST /api/v1/gps/subscriptions": "the tracker must be fitted to a vehicle",
    "POST /api/v1/gps/subscriptions/{subscription_id}/renew": "the amount below 10^12; "
                                                              "a printable reference",
}
POSITIVE_EXPECTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def served(make_app: Callable[..., Flask]) -> Iterator[tuple[str, str]]:
    """The app with data, served on 127.0.0.1 (a free port) for as long as the test runs;
    yields its base URL and an admin token."""
    app = make_app(TESTING=False, WTF_CSRF_ENABLED=True)
    seed(app)
    token = token_for(app, "admin")
    _add_records(app, token)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", token
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


def _add_records(app: Flask, token: str) -> None:
    """Records with id 1 in each resource, so item paths and links answer with data."""
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = client.post(path, json=body, headers=auth)
        assert resp.status_code in (200, 201), (path, resp.get_json())
        return resp.get_json()

    person = post("/api/v1/customers", {"kind": "person", "name": "王小明", "branch_id": 1,
                                        "phones": ["13800138000"]})
    post("/api/v1/vehicles", {"vin": valid_vin(1), "owner_id": person["id"], "branch_id": 1,
                              "plate": "粤B12345", "make": "BYD"})
    post(f"/api/v1/customers/{person['id']}/timeline",
         {"kind": "task", "subject": "Call back", "due_at": "2030-01-01T09:00:00+08:00"})
    post("/api/v1/query/saved", {"source": "customers", "name": "All"})
    post("/api/v1/currency/rates", {"base": "USD", "quote": "CNY", "rate": "7.1",
                                    "valid_from": "2026-01-01"})
    post("/api/v1/units/packaging", {"name": "box12", "base_unit": "piece", "factor": "12"})


def _config(token: str | None, **extra: Any) -> Any:
    settings: dict[str, Any] = {
        "seed": SEED,
        # no example database and no cache between runs: each run is the same run
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none"},
        "cache": {"enabled": False},
        "checks": {"enabled": True},  # --checks all
        "phases": {"stateful": {"max-steps": 6}},
        "max-failures": 10_000,  # report everything at once
        "operations": [
            {"include-name": name, "checks": {"positive_data_acceptance": {
                "expected-statuses": [*POSITIVE_EXPECTED, "422"]}}}
            for name in RULES_BEYOND_THE_SCHEMA],
        **extra,
    }
    if token:
        settings["headers"] = {"Authorization": f"Bearer {token}"}
    return schemathesis.Config.from_dict(settings)


def _run(base_url: str, config: Any) -> tuple[int, list[str]]:
    """Run every phase; the number of scenarios and a description of each failure."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)
    failures: dict[tuple[str, str, str], str] = {}
    scenarios = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            failures[("error", type(event).__name__, "")] = str(
                getattr(event, "info", None) or getattr(event, "exception", event))
        if not isinstance(event, events.ScenarioFinished):
            continue
        scenarios += 1
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.failure_info is None:
                    continue
                failure = check.failure_info.failure
                key = (failure.operation or "", check.name, failure.title)
                if key in failures:
                    continue
                failures[key] = _describe(failure.message,
                                          event.recorder.interactions.get(case_id))
    return scenarios, [f"{op} [{check}] {title}: {text}"
                       for (op, check, title), text in failures.items()]


def _describe(message: str, interaction: Any) -> str:
    text = message.strip()[:600]
    if interaction is not None:
        request = interaction.request
        text += f"\n    {request.method} {request.uri} {(request.body or b'')[:300]!r}"
        if interaction.response is not None:
            response = interaction.response
            text += f"\n    -> {response.status_code} {response.content[:300]!r}"
    return text


def test_whole_api_passes_all_checks(served: tuple[str, str]) -> None:
    base_url, token = served
    scenarios, failures = _run(base_url, _config(token))
    assert scenarios > 100  # every operation in every phase ran
    assert not failures, "\n".join(failures)


def test_without_credentials_every_operation_answers_401(served: tuple[str, str]) -> None:
    """No token, no session: every operation (writes too, which once answered 400 "form has
    expired") answers a documented 401."""
    base_url, _token = served
    config = _config(None, phases={"stateful": {"enabled": False},
                                   "coverage": {"enabled": False}})
    scenarios, failures = _run(base_url, config)
    assert scenarios > 50
    assert not failures, "\n".join(failures)
