"""The core's default plugins: one small module per core feature, each registering only its
own feature through the same hooks as every installed plugin.

Like Datasette's ``DEFAULT_PLUGINS``, the list is written once, here. The host registers the
modules in this order under one plugin, ``core``: always on, never switched off, exempt from
the rules that installed plugins follow, and shown as "Platform core" everywhere. Collected
hook results are sorted by weight and name, so the order below only decides the order of
blueprints and models (kernel first: every other feature refers to its tables).
"""

from __future__ import annotations

import importlib
import types

from flask_babel import lazy_gettext as _l

from carebiz import __version__
from carebiz.plugins.manifest import CORE, PluginManifest

#: module paths of the core features' plugin modules, in registration order
DEFAULT_PLUGINS: tuple[str, ...] = (
    "carebiz.kernel.plugin",
    "carebiz.export.plugin",
    "carebiz.crm.plugin",
    "carebiz.currency.plugin",
    "carebiz.units.plugin",
    "carebiz.query.plugin",
    "carebiz.documents.plugin",
    "carebiz.notify.plugin",
)

CORE_MANIFEST = PluginManifest(
    name=CORE,
    version=__version__,
    label=_l("Platform core"),
    description=_l("Users, roles, branches, audit, settings and background jobs."),
    package="carebiz",
)


def default_plugin_modules() -> list[types.ModuleType]:
    """The modules of :data:`DEFAULT_PLUGINS`, imported (an import error is a bug of the core
    and stops start-up, unlike a broken installed plugin)."""
    return [importlib.import_module(path) for path in DEFAULT_PLUGINS]
