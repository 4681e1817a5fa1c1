"""Dependency resolution: which plugins to load, in which order, and what is wrong."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from carebiz.plugins.manifest import PluginManifest


class PluginSetupError(RuntimeError):
    """Startup cannot go on; the message lists every problem found, one per line."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"CareBusiness plugins cannot be set up:\n{lines}")


def resolve(
    available: Mapping[str, PluginManifest], requested: str | list[str]
) -> tuple[list[str], list[str]]:
    """Return (ordered names, problems).

    The requested set (``"all"`` or a list) is closed over hard dependencies, auto-enabled
    plugins whose dependencies are all present are added, and the result is ordered
    dependencies first, then by name, so registration never depends on entry-point order.
    """
    problems: list[str] = []
    if requested == "all":
        wanted = set(available)
    else:
        wanted = set()
        for name in requested:
            if name in available:
                wanted.add(name)
            else:
                known = ", ".join(sorted(available)) or "none installed"
                problems.append(f"unknown plugin '{name}' in CAREBIZ_PLUGINS (installed: {known})")

    selected: set[str] = set()
    stack = sorted(wanted)
    while stack:
        name = stack.pop()
        if name in selected:
            continue
        selected.add(name)
        for dep in available[name].requires:
            if dep not in available:
                problems.append(f"plugin '{name}' requires '{dep}', which is not installed")
            elif dep not in selected:
                stack.append(dep)

    changed = True
    while changed:
        changed = False
        for name in sorted(available):
            m = available[name]
            wanted_auto = name not in selected and m.auto_enable and m.requires
            if wanted_auto and all(dep in selected for dep in m.requires):
                selected.add(name)
                changed = True

    order, cycle_problems = topological(
        {n: [d for d in available[n].requires if d in selected] for n in selected}
    )
    problems.extend(cycle_problems)
    return order, problems


def topological(graph: Mapping[str, list[str]]) -> tuple[list[str], list[str]]:
    """Lexicographic topological order: always the smallest name whose dependencies are all
    placed. A cycle is reported with the plugins caught in it."""
    remaining = {n: set(deps) for n, deps in graph.items()}
    ready = [n for n, deps in remaining.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        del remaining[name]
        for other, deps in remaining.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    if remaining:
        members = ", ".join(sorted(remaining))
        return order, [f"dependency cycle between plugins: {members}"]
    return order, []


def dependents_closure(graph: Mapping[str, Iterable[str]], names: Iterable[str]) -> set[str]:
    """Names plus every plugin that (transitively) requires one of them."""
    result = set(names)
    changed = True
    while changed:
        changed = False
        for name, deps in graph.items():
            if name not in result and result.intersection(deps):
                result.add(name)
                changed = True
    return result


def requirements_closure(graph: Mapping[str, Iterable[str]], names: Iterable[str]) -> set[str]:
    """Names plus everything they (transitively) require."""
    result: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in result:
            result.add(name)
            stack.extend(graph.get(name, ()))
    return result
