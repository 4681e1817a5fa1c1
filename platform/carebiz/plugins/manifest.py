"""What a plugin says about itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

CORE = "core"


@dataclass(frozen=True)
class PluginManifest:
    """A plugin's identity and its place among the others.

    ``requires`` are hard dependencies: the plugin cannot work without them, so enabling it
    enables them and disabling one of them disables it. ``uses`` are soft: the plugin works
    better beside them (it listens to their events or fills their hooks) but works alone.
    ``auto_enable`` switches the plugin on by itself whenever all of its ``requires`` are on,
    for glue plugins between two subsystems. ``package`` is the import package; its
    ``migrations/versions`` and ``translations`` folders are found from it.
    """

    name: str
    version: str
    label: Any
    description: Any = ""
    requires: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    auto_enable: bool = False
    package: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def _folder(self, *parts: str) -> Path | None:
        if not self.package:
            return None
        try:
            base = Path(str(resources.files(self.package)))
        except (ModuleNotFoundError, TypeError):
            return None
        path = base.joinpath(*parts)
        return path if path.is_dir() else None

    @property
    def migrations_folder(self) -> Path | None:
        """``<package>/migrations/versions``: this plugin's own Alembic history."""
        return self._folder("migrations", "versions")

    @property
    def translations_folder(self) -> Path | None:
        """``<package>/translations``: catalogs of the translation domain named like the plugin."""
        return self._folder("translations")

    @property
    def version_table(self) -> str:
        return "alembic_version" if self.name == CORE else f"alembic_version_{self.name}"
