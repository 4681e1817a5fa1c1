"""Plugin A: stock. It knows nothing of the workshop plugin."""

from __future__ import annotations

from typing import Any

from carebiz import hookimpl
from carebiz.plugins import PluginManifest
from carebiz.plugins.capabilities import Capability
from tests.stock_plugin import hooks

manifest = PluginManifest(name="stock", version="1.0", label="Stock")


class Reservations:
    """The ``stock.reservation`` capability: reserve(part, quantity) -> a reservation code."""

    def reserve(self, part: str, quantity: int) -> str:
        return f"reserved {quantity} x {part}"


@hookimpl
def hookspecs() -> list[Any]:
    return [hooks]


@hookimpl
def capabilities() -> list[Capability]:
    return [Capability("stock.reservation", Reservations(), "Reserve parts in stock.")]


def pick_slip(host: Any, part: str) -> list[str]:
    """What the stock plugin prints for ``part``: its own line and every plugin's notes."""
    return [f"pick {part}", *host.collect("stock_part_notes", part=part)]
