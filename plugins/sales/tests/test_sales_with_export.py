"""Sales beside the export plugin: every sales list exports through its formats too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The core, sales and export (the fixture of this module only)."""
    return make_app(CAREBIZ_PLUGINS="sales,export")


def test_lists_export_through_the_export_plugin(app: Flask, seeded: dict[str, Any],
                                                api_client: Any, client_for: Any) -> None:
    sales = api_client("sales")
    made = sales.post("/api/v1/sales/prospects", json={"name": "李娜", "phone": "13800138000",
                                                      "source": "walk_in"})
    assert made.status_code == 201
    csv = sales.get("/api/v1/sales/prospects?format=csv")
    assert csv.status_code == 200 and "李娜" in csv.get_data(as_text=True)
    xlsx = sales.get("/api/v1/sales/prospects?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    for name in ("sales.prospects", "sales.return_visits", "sales.showroom_visits",
                 "sales.test_drives"):
        assert client_for("sales").get(f"/export/{name}?format=xlsx").status_code in (200, 302)
    # the export of another branch's prospect names nobody
    manager = api_client("manager")
    manager.post("/api/v1/sales/prospects", json={"name": "周杰", "phone": "13900139000",
                                                 "source": "phone", "branch_id":
                                                 seeded["branches"]["B"]})
    assert "周杰" not in sales.get("/api/v1/sales/prospects?format=csv").get_data(as_text=True)
