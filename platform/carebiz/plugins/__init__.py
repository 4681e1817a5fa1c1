"""The plugin system: manifests, discovery through entry points, dependency resolution and the
per-app host that calls hooks only on the plugins a business has switched on."""

from carebiz.plugins.host import PluginHost
from carebiz.plugins.manifest import PluginManifest
from carebiz.plugins.resolver import PluginSetupError

__all__ = ["PluginHost", "PluginManifest", "PluginSetupError"]
