"""Sales takes one place in the top bar: its stock and orders pages join the Sales dropdown
(``MenuItem.parent``), so the bar still fits at 1366 px with every plugin switched on."""

from __future__ import annotations

import re
from typing import Any


def _top_level(html: str) -> list[str]:
    """The ``data-menu`` names of the top bar's own links (not those inside a dropdown)."""
    return re.findall(r'<li class="nav-item"><a class="nav-link[^"]*" href="[^"]*"\s+'
                      r'data-menu="([^"]+)"', html)


def test_pipeline_stock_and_orders_sit_in_the_sales_dropdown(seeded: dict[str, Any],
                                                   client_for: Any) -> None:
    html = client_for("sales").get("/sales/stock").get_data(as_text=True)
    dropdown = html.split('data-testid="menu-sales"', 1)[1].split("</li>\n        {%", 1)[0]
    dropdown = dropdown.split("</ul>", 1)[0]
    assert re.findall(r'data-menu="([^"]+)"', dropdown) == ["sales", "sales.pipeline",
                                                            "sales.stock", "sales.orders"]
    # the page shown is marked in the dropdown, and the dropdown's head with it
    assert re.search(r'dropdown-item active"\s+href="/sales/stock"', dropdown)
    assert 'nav-link dropdown-toggle active' in html.split('data-testid="menu-sales"', 1)[1]
    top = _top_level(html)
    assert "sales.stock" not in top and "sales.orders" not in top and "sales" not in top
