"""Finding installed plugins: only through the ``carebiz.plugins`` entry-point group.

Built-in plugins are declared in the project's ``pyproject.toml`` exactly like third-party
ones, so there is one path for all of them.
"""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import NamedTuple

from carebiz.plugins.manifest import CORE, PluginManifest

GROUP = "carebiz.plugins"

log = logging.getLogger("carebiz.plugins")


@dataclass
class Discovered:
    name: str
    module: types.ModuleType
    manifest: PluginManifest
    distribution: str


class Discovery(NamedTuple):
    """What the entry points held."""

    #: plugins that loaded, by name
    found: dict[str, Discovered]
    #: mistakes that stop start-up (no manifest, wrong or duplicate name)
    problems: list[str]
    #: names of installed plugins that did not load (problems or import failures)
    broken: set[str]
    #: plugin name -> why it could not be imported: reported and left out, start-up goes on
    failed: dict[str, str]


def discover(group: str = GROUP) -> Discovery:
    """Load every entry point of the group.

    A plugin that fails to import is left out and reported (logged here, then shown by
    ``carebiz plugins list`` and the subsystems page): one broken installation must not keep
    the business from working. A plugin that lacks a manifest, names itself differently from
    its entry point, or shares its name with another is a packaging mistake that stops
    start-up. Nothing is silently dropped.
    """
    found: dict[str, Discovered] = {}
    problems: list[str] = []
    broken: set[str] = set()
    failed: dict[str, str] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        dist = ep.dist.name if ep.dist is not None else "?"
        if ep.name == CORE:
            problems.append(f"plugin name 'core' is reserved (declared by distribution {dist})")
            continue
        if ep.name in found:
            other = found[ep.name].distribution
            problems.append(
                f"duplicate plugin name '{ep.name}': declared by distributions {other} and {dist}"
            )
            continue
        try:
            module = ep.load()
        except Exception as exc:  # any import error must be reported with its cause
            failed[ep.name] = f"failed to import {ep.value}: {type(exc).__name__}: {exc}"
            log.error("plugin %r is left out: %s", ep.name, failed[ep.name], exc_info=exc)
            broken.add(ep.name)
            continue
        manifest = getattr(module, "manifest", None)
        if not isinstance(manifest, PluginManifest):
            problems.append(f"plugin '{ep.name}' ({ep.value}) has no PluginManifest 'manifest'")
            broken.add(ep.name)
            continue
        if manifest.name != ep.name:
            problems.append(
                f"plugin entry point '{ep.name}' loads a manifest named '{manifest.name}'"
            )
            broken.add(ep.name)
            continue
        found[ep.name] = Discovered(ep.name, module, manifest, dist)
    return Discovery(found, problems, broken, failed)
