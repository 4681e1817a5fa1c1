"""An immutable quantity: a Decimal value with its unit, as stored and shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from carebiz.units import registry


@dataclass(frozen=True)
class Quantity:
    """``Quantity(Decimal("10"), "km").to("mi") == Quantity(Decimal("6.21371192237"), "mi")``.

    ``packaging`` (``name -> (base_unit, factor)``, see
    :func:`carebiz.units.services.packaging_table`) lets it convert packaging units too."""

    value: Decimal
    unit: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", registry.parse_decimal(self.value))

    def to(self, unit: str, packaging: Mapping[str, tuple[str, Decimal]] | None = None,
           digits: int = registry.SIGNIFICANT_DIGITS) -> Quantity:
        if unit == self.unit:
            return self
        return Quantity(registry.convert(self.value, self.unit, unit, packaging, digits), unit)

    def as_json(self) -> dict[str, Any]:
        """Decimals travel as strings: ``{"value": "6.21371", "unit": "mi"}``."""
        return {"value": registry.to_text(self.value), "unit": self.unit}

    def __str__(self) -> str:
        return f"{registry.to_text(self.value)} {self.unit}"
