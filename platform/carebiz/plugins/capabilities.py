"""Named capabilities: one plugin offers a service object, another asks the host for it by name
and uses it when its provider is switched on — neither imports the other.

The parts plugin offers ``Capability("parts.stock_reservation", Reservations())``; the repair
plugin calls ``host.capability("parts.stock_reservation")`` and gets that object, or ``None``
when parts is not installed or switched off, and falls back to its own behaviour. The name is
the contract, with a :class:`typing.Protocol` the providing plugin documents; a consumer
types its variable with its own copy of that protocol, so no import crosses the boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Capability:
    """What the ``capabilities`` hook returns: ``provider`` answers for ``name``.

    :param name: the capability's name, ``<area>.<what>`` (``"parts.stock_reservation"``).
        One installed plugin at most provides each name; two are a start-up error.
    :param provider: any object — usually an instance of a class with the methods the
        capability's protocol documents. It must not hold request or session state: it is
        built once per switched-on set and shared.
    :param description: one line for the plugin guide and the logs.
    """

    name: str
    provider: Any
    description: str = ""
    weight: int = 100


def duplicate_providers(offers: Iterable[tuple[str, Capability]]) -> list[str]:
    """Problems for capability names offered by more than one installed plugin (every
    provider named), to stop start-up: which one would answer must never be chance."""
    by_name: dict[str, list[str]] = {}
    for plugin, capability in offers:
        by_name.setdefault(capability.name, []).append(plugin)
    return [f"capability '{name}' is provided by more than one plugin: "
            f"{', '.join(sorted(plugins))}"
            for name, plugins in sorted(by_name.items()) if len(plugins) > 1]


def providers(capabilities: Iterable[Capability]) -> Mapping[str, Any]:
    """Capability name -> provider object, for the switched-on plugins' offers."""
    return {c.name: c.provider for c in capabilities}
