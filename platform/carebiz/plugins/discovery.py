"""Finding installed plugins: only through the ``carebiz.plugins`` entry-point group.

Built-in plugins are declared in the project's ``pyproject.toml`` exactly like third-party
ones, so there is one path for all of them.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from importlib.metadata import entry_points

from carebiz.plugins.manifest import CORE, PluginManifest

GROUP = "carebiz.plugins"


@dataclass
class Discovered:
    name: str
    module: types.ModuleType
    manifest: PluginManifest
    distribution: str


def discover(group: str = GROUP) -> tuple[dict[str, Discovered], list[str], set[str]]:
    """Load every entry point of the group; return the plugins found, the problems seen and
    the names of the plugins that are installed but broken.

    A plugin that fails to import, lacks a manifest, names itself differently from its entry
    point, or shares its name with another is reported, never silently dropped.
    """
    found: dict[str, Discovered] = {}
    problems: list[str] = []
    broken: set[str] = set()
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
            problems.append(
                f"plugin '{ep.name}' ({ep.value}) failed to import: {type(exc).__name__}: {exc}"
            )
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
    return found, problems, broken
