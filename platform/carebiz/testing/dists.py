"""Fake installed distributions, so tests exercise real entry-point discovery.

A distribution is a ``<name>-<version>.dist-info`` folder on ``sys.path`` with ``METADATA``
and ``entry_points.txt``: exactly what ``pip install`` leaves, without installing anything."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest


class FakeDists:
    """Installed distributions made on the fly in a folder on ``sys.path``: a plugin package
    written by the test (or one of its own) becomes discoverable through the
    ``carebiz.plugins`` entry points, as ``pip install`` would make it."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        monkeypatch.syspath_prepend(str(root))
        self._mp = monkeypatch
        self._modules: list[str] = []

    def module(self, dotted: str, source: str) -> None:
        """Write a module (and its parent packages) under the fake site folder."""
        parts = dotted.split(".")
        folder = self.root
        for part in parts[:-1]:
            folder = folder / part
            folder.mkdir(exist_ok=True)
            init = folder / "__init__.py"
            if not init.exists():
                init.write_text("")
        (folder / f"{parts[-1]}.py").write_text(textwrap.dedent(source))
        self._modules.append(parts[0])
        importlib.invalidate_caches()

    def dist(self, name: str, plugins: dict[str, str], version: str = "1.0") -> None:
        """Declare ``plugins`` (entry-point name -> object reference) in group carebiz.plugins."""
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[carebiz.plugins]"] + [f"{k} = {v}" for k, v in plugins.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()

    def forget_modules(self) -> None:
        for top in set(self._modules):
            for mod in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
                del sys.modules[mod]


def manifest_module(name: str, requires: tuple[str, ...] = (), auto: bool = False,
                    body: str = "") -> str:
    """Source of a minimal plugin module with a manifest and optional hook bodies."""
    return (
        "from carebiz import hookimpl\n"
        "from carebiz.plugins import PluginManifest\n"
        f"manifest = PluginManifest(name={name!r}, version='1.0', label={name.title()!r},\n"
        f"                          requires={tuple(requires)!r}, auto_enable={auto!r})\n"
        + textwrap.dedent(body)
    )
