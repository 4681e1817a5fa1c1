"""The lists the switched-on plugins registered: every ``export_tables`` entry made with
:meth:`ExportTable.of_list <carebiz.contributions.ExportTable.of_list>` carries its
definition, so tests (and tools) can walk every list without a second registration."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

from carebiz.lists.definition import ListDefinition


def registered_lists(host: Any) -> Mapping[str, ListDefinition]:
    """Export name -> the list's definition (once per switched-on set of plugins)."""
    def build() -> Mapping[str, ListDefinition]:
        return MappingProxyType({entry.name: entry.definition
                                 for entry in host.collect("export_tables")
                                 if isinstance(entry.definition, ListDefinition)})

    return cast(Mapping[str, ListDefinition], host.registry("lists.by_name", build))


def definition_of(host: Any, name: str) -> ListDefinition:
    """A registered list by its export name (KeyError when none is)."""
    return registered_lists(host)[name]
