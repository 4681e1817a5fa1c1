"""Plugin B: workshop. It never imports the stock plugin; it asks the host."""

from __future__ import annotations

from typing import Any, Protocol

from carebiz import hookimpl
from carebiz.plugins import PluginManifest

manifest = PluginManifest(name="workshop", version="1.0", label="Workshop", uses=("stock",))


class StockReservation(Protocol):
    """The workshop's own copy of the ``stock.reservation`` protocol."""

    def reserve(self, part: str, quantity: int) -> str: ...


def plan_part(host: Any, part: str, quantity: int = 1) -> str:
    """Reserve ``part`` from stock when the stock subsystem is on; else order it."""
    reservations: StockReservation | None = host.capability("stock.reservation")
    if reservations is None:
        return f"order {quantity} x {part}"
    return reservations.reserve(part, quantity)


@hookimpl(optionalhook=True)  # the workshop works without the stock plugin
def stock_part_notes(part: str) -> list[str]:
    return [f"workshop needs {part} today"]


@hookimpl(optionalhook=True)
def stock_supplier(part: str) -> str:
    return "workshop's usual supplier"
