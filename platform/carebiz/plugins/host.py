"""The per-app plugin host: one pluggy ``PluginManager`` per Flask app, never a global.

The set of *installed* plugins is fixed when the app is created (Flask cannot add blueprints
later). Which of them are *switched on* is business data kept in the database and read at
request time: a switched-off plugin is left out of every hook call and its routes answer 404.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pluggy
from flask import g, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from carebiz import hookspecs
from carebiz.generations import PLUGINS
from carebiz.plugins.discovery import Discovered
from carebiz.plugins.manifest import CORE, PluginManifest
from carebiz.plugins.resolver import dependents_closure, requirements_closure

log = logging.getLogger(__name__)

#: bound of the per-process caches of hook callers and registrations (a handful of
#: switched-on sets times the hooks; cleared when exceeded)
MAX_CACHED = 2000


def sort_key(item: Any) -> tuple[Any, str]:
    """Explicit ordering of collected hook results: weight, then name."""
    return (getattr(item, "weight", 100), str(getattr(item, "name", "")))


class PluginHost:
    def __init__(
        self,
        core: Sequence[types.ModuleType],
        core_manifest: PluginManifest,
        plugins: Iterable[Discovered],
        available: dict[str, PluginManifest] | None = None,
    ):
        """``core`` are the core's default plugin modules (``carebiz.plugins.defaults``), in
        their listed order: each is registered with pluggy under its module name and owned by
        the one plugin ``core``, always on."""
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.manifests: dict[str, PluginManifest] = {CORE: core_manifest}
        #: each installed plugin's module (the core's modules are in ``core_modules``)
        self.modules: dict[str, types.ModuleType] = {}
        self.core_modules = tuple(core)
        #: pluggy registration name -> owning plugin, in registration order
        self.owners: dict[str, str] = {}
        for module in self.core_modules:
            self.pm.register(module, name=module.__name__)
            self.owners[module.__name__] = CORE
        for plugin in plugins:  # already in dependency-then-name order
            self.manifests[plugin.name] = plugin.manifest
            self.modules[plugin.name] = plugin.module
            self.pm.register(plugin.module, name=plugin.name)
            self.owners[plugin.name] = plugin.name
        #: every installed manifest, including those not selected by CAREBIZ_PLUGINS
        self.available = dict(available or {})
        self.graph = {n: [d for d in m.requires if d in self.manifests]
                      for n, m in self.manifests.items()}
        self.session_factory: Callable[[], Session] | None = None
        #: ``carebiz.generations.Generations`` of the app: tells when the switches changed
        self.generations: Any = None
        # Per process, for the switched-on set they were built for (it rarely changes, and
        # building them costs more than many a request): the set itself under the
        # ``plugins`` generation, hook callers, and results of the hooks without arguments.
        self._active: tuple[int, frozenset[str]] | None = None
        self._callers: dict[tuple[str, frozenset[str]], Any] = {}
        self._registries: dict[tuple[str, frozenset[str]], Any] = {}
        self._argless: dict[str, bool] = {}

    # -- the installed set -------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Installed plugin names in registration order (without the core)."""
        return [n for n in self.manifests if n != CORE]

    def check_pending(self) -> None:
        """Fail loudly on hook implementations that match no specification (typos)."""
        self.pm.check_pending()

    # -- the switched-on set -----------------------------------------------
    def stored_states(self) -> dict[str, bool]:
        """The on/off switches saved in the database (missing: on)."""
        from carebiz.models import PluginState

        if self.session_factory is None:
            return {}
        sess = self.session_factory()
        try:
            rows = sess.execute(select(PluginState.name, PluginState.enabled)).all()
            return {name: enabled for name, enabled in rows}
        except DBAPIError:  # tables not created yet (before `carebiz db upgrade`)
            log.debug("plugin state table missing; treating every plugin as on")
            return {}
        finally:
            sess.close()

    def active_names(self) -> frozenset[str]:
        """Switched-on plugins (with the core), closed over dependencies: a plugin whose
        requirement is off is off too. Cached for the current app context, and in the process
        for as long as the ``plugins`` generation stays the same (any switch, in any process,
        changes it: ``carebiz.generations``)."""
        if has_app_context() and "_carebiz_active" in g:
            return g._carebiz_active
        generation = self.generations.value(PLUGINS) if self.generations is not None else None
        cached = self._active
        if generation is not None and cached is not None and cached[0] == generation:
            active = cached[1]
        else:
            states = self.stored_states()
            off = {n for n in self.names if states.get(n) is False}
            off = dependents_closure(self.graph, off)
            active = frozenset(n for n in self.manifests if n not in off)
            if generation is not None:
                self._active = (generation, active)
        if has_app_context():
            g._carebiz_active = active
        return active

    def invalidate(self) -> None:
        """Forget the cached switched-on set (after enabling or disabling)."""
        self._active = None
        if has_app_context():
            g.pop("_carebiz_active", None)

    def is_active(self, name: str) -> bool:
        return name in self.active_names()

    def closure_to_enable(self, name: str) -> set[str]:
        return requirements_closure(self.graph, [name]) - {CORE}

    def closure_to_disable(self, name: str) -> set[str]:
        return dependents_closure(self.graph, [name]) - {CORE}

    # -- calling hooks -----------------------------------------------------
    def hook(self, name: str) -> Any:
        """A hook caller that leaves out switched-off plugins (built once per switched-on
        set; pluggy's subset callers look up the implementations when called)."""
        active = self.active_names()
        key = (name, active)
        caller = self._callers.get(key)
        if caller is None:
            inactive = [self.modules[n] for n in self.manifests if n not in active]
            caller = (self.pm.subset_hook_caller(name, remove_plugins=inactive) if inactive
                      else getattr(self.pm.hook, name))
            if len(self._callers) > MAX_CACHED:
                self._callers.clear()
            self._callers[key] = caller
        return caller

    def call(self, name: str, **kwargs: Any) -> list[Any]:
        """Raw results of the enabled plugins' implementations."""
        return self.hook(name)(**kwargs)

    def collect(self, name: str, **kwargs: Any) -> list[Any]:
        """Flatten the lists returned by enabled plugins and sort them by (weight, name).

        Hooks without arguments are registrations (permissions, settings, export tables …;
        see ``carebiz.hookspecs``): their results are collected once per switched-on set and
        the same (frozen) objects handed out again."""
        if not kwargs and self._is_registration(name):
            return list(self.registry(name, lambda: tuple(self._collect(name))))
        return self._collect(name, **kwargs)

    def registry(self, key: str, build: Callable[[], Any]) -> Any:
        """``build()`` once per switched-on set: for what is derived from registrations only
        (the permissions by name, the settings by key). The result is shared: never change
        it."""
        cache_key = (key, self.active_names())
        try:
            return self._registries[cache_key]
        except KeyError:
            pass
        value = build()
        if len(self._registries) > MAX_CACHED:
            self._registries.clear()
        self._registries[cache_key] = value
        return value

    def _is_registration(self, name: str) -> bool:
        known = self._argless.get(name)
        if known is None:
            spec = getattr(self.pm.hook, name).spec
            known = self._argless[name] = spec is not None and not spec.argnames
        return known

    def _collect(self, name: str, **kwargs: Any) -> list[Any]:
        items: list[Any] = []
        for result in self.call(name, **kwargs):
            if result is None:
                continue
            if isinstance(result, (list, tuple)):
                items.extend(result)
            else:
                items.append(result)
        return sorted(items, key=sort_key)

    def collect_by_plugin(
        self, name: str, *, include_inactive: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """``(plugin name, item)`` pairs in registration order: for things the platform must
        attribute to their plugin (blueprints, models, translations)."""
        pairs: list[tuple[str, Any]] = []
        caller = getattr(self.pm.hook, name)
        active = self.active_names() if not include_inactive else None
        by_name = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
        for registered, plugin_name in self.owners.items():
            impl = by_name.get(registered)
            if impl is None or (active is not None and plugin_name not in active):
                continue
            args = {a: kwargs[a] for a in impl.argnames}
            result = impl.function(**args)
            for item in result or ():
                pairs.append((plugin_name, item))
        return pairs
