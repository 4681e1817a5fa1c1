"""The per-app plugin host: one pluggy ``PluginManager`` per Flask app, never a global.

The set of *installed* plugins is fixed when the app is created (Flask cannot add blueprints
later). Which of them are *switched on* is business data kept in the database and read at
request time: a switched-off plugin is left out of every hook call and its routes answer 404.

pluggy registers the implementations and checks them against the specifications; the host
calls them itself (``HookCall``), because two things must hold for every hook and pluggy's
caller gives neither: one explicit order (core, dependencies, name — not last-registered
first) and one failure policy per hook (``carebiz.plugins.isolation``).
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import pluggy
from flask import g, has_app_context
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from carebiz import hookspecs
from carebiz.generations import PLUGINS, Generations
from carebiz.plugins import capabilities, isolation, ownership
from carebiz.plugins.discovery import Discovered
from carebiz.plugins.manifest import CORE, PluginManifest
from carebiz.plugins.resolver import dependents_closure, requirements_closure, topological

log = logging.getLogger(__name__)

#: bound of the per-process caches of hook callers and registrations (a handful of
#: switched-on sets times the hooks; cleared when exceeded)
MAX_CACHED = 2000


def sort_key(item: Any) -> tuple[Any, str]:
    """Explicit ordering of collected hook results: weight, then name."""
    return (getattr(item, "weight", 100), str(getattr(item, "name", "")))


class PluginHost:
    """The plugins of one app: what is installed, what is switched on, and calling them."""

    def __init__(
        self,
        core: Sequence[types.ModuleType],
        core_manifest: PluginManifest,
        plugins: Iterable[Discovered],
        available: dict[str, PluginManifest] | None = None,
        failed: dict[str, str] | None = None,
    ):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.manifests: dict[str, PluginManifest] = {CORE: core_manifest}
        #: each installed plugin's module (the core's modules are in ``core_modules``)
        self.modules: dict[str, types.ModuleType] = {}
        #: the core's default plugin modules (``carebiz.plugins.defaults``), in listed order
        self.core_modules = tuple(core)
        #: names registered as the platform core: exempt from the ownership rules, never off
        self.core_names: frozenset[str] = frozenset({CORE})
        #: plugin -> its pluggy registration names (the core: one per default module)
        self.registrations: dict[str, tuple[str, ...]] = {
            CORE: tuple(m.__name__ for m in self.core_modules)}
        for module in self.core_modules:
            self.pm.register(module, name=module.__name__)
        for plugin in plugins:
            self.manifests[plugin.name] = plugin.manifest
            self.modules[plugin.name] = plugin.module
            self.pm.register(plugin.module, name=plugin.name)
            self.registrations[plugin.name] = (plugin.name,)
        #: pluggy registration name -> owning plugin
        self.owners: dict[str, str] = {reg: plugin for plugin, regs in self.registrations.items()
                                       for reg in regs}
        #: every installed manifest, including those not selected by CAREBIZ_PLUGINS
        self.available = dict(available or {})
        #: installed plugins left out because they could not be loaded -> why
        self.failed: dict[str, str] = dict(failed or {})
        self.graph = {n: [d for d in m.requires if d in self.manifests]
                      for n, m in self.manifests.items()}
        #: the explicit order of every call: the core, then dependencies first, then by name
        #: (whatever order the plugins were registered in)
        self.order: list[str] = [n for n in self.manifests if self.is_core(n)] + topological(
            {n: [d for d in deps if not self.is_core(d)]
             for n, deps in self.graph.items() if not self.is_core(n)})[0]
        #: hook name -> plugin that declared it (``hookspecs`` hook), and its failure policy
        self.declared_hooks: dict[str, str] = {}
        self.declared_policy: dict[str, isolation.Policy] = {}
        self._add_declared_hookspecs()
        self.session_factory: Callable[[], Session] | None = None
        #: the app's cache generations: tell when the switches changed
        self.generations: Generations | None = None
        # Per process, for the switched-on set they were built for (it rarely changes, and
        # building them costs more than many a request): the set itself under the
        # ``plugins`` generation, hook callers, and results of the hooks without arguments.
        self._active: tuple[int, frozenset[str]] | None = None
        self._callers: dict[tuple[str, frozenset[str]], HookCall] = {}
        self._registries: dict[tuple[str, frozenset[str]], Any] = {}
        self._argless: dict[str, bool] = {}

    # -- the installed set -------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Installed plugin names in the host's order (without the core)."""
        return [n for n in self.order if not self.is_core(n)]

    def is_core(self, name: str) -> bool:
        """Whether ``name`` is part of the platform core rather than a plugin."""
        return name in self.core_names

    def _add_declared_hookspecs(self) -> None:
        """Add the hook specifications plugins declare for each other (every installed plugin,
        switched on or not: the set of hooks is fixed at start-up), before implementations
        are checked."""
        for plugin, namespace in self.collect_by_plugin("hookspecs", include_inactive=True):
            self.pm.add_hookspecs(namespace)
            fail_closed = set(getattr(namespace, "FAIL_CLOSED", ()))
            for attr in dir(namespace):
                if getattr(getattr(namespace, attr), f"{hookspecs.PROJECT}_spec", None) is None:
                    continue
                self.declared_hooks[attr] = plugin
                self.declared_policy[attr] = "fail_closed" if attr in fail_closed else "isolate"

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
            return cast(frozenset[str], g._carebiz_active)
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
    def hook(self, name: str) -> HookCall:
        """The caller of hook ``name`` for the switched-on plugins (built once per switched-on
        set): it calls them in the host's explicit order with the hook's failure policy."""
        active = self.active_names()
        key = (name, active)
        caller = self._callers.get(key)
        if caller is None:
            caller = self._build_caller(name, active)
            if len(self._callers) > MAX_CACHED:
                self._callers.clear()
            self._callers[key] = caller
        return caller

    def _build_caller(self, name: str, active: frozenset[str]) -> HookCall:
        pluggy_caller = getattr(self.pm.hook, name, None)
        if pluggy_caller is None:
            raise AttributeError(f"no hook named '{name}' is declared")
        by_plugin = {impl.plugin_name: impl for impl in pluggy_caller.get_hookimpls()}
        impls = tuple((plugin, by_plugin[reg].function, tuple(by_plugin[reg].argnames))
                      for plugin, reg in self._in_order() if plugin in active and reg in by_plugin)
        spec = pluggy_caller.spec
        first = bool(spec is not None and spec.opts.get("firstresult"))
        return HookCall(self, name, impls, isolation.policy_of(name, self.declared_policy),
                        first)

    def call(self, name: str, **kwargs: Any) -> Any:
        """Results of the enabled plugins' implementations, in the host's order (core first,
        then dependency order, then name); for a ``firstresult`` hook, the first answer that
        is not ``None``."""
        return self.hook(name)(**kwargs)

    def collect(self, name: str, **kwargs: Any) -> list[Any]:
        """Flatten the lists returned by enabled plugins and sort them by (weight, name).

        Hooks without arguments are registrations (permissions, settings, export tables …;
        see ``carebiz.hookspecs``): their results are collected once per switched-on set and
        the same (frozen) objects handed out again."""
        if not kwargs and self._is_registration(name):
            return list(self.registry(name, lambda: tuple(self._collect(name))))
        return self._collect(name, **kwargs)

    def capability(self, name: str) -> Any:
        """The provider of capability ``name`` among the switched-on plugins, or ``None`` when
        no switched-on plugin offers it (see ``carebiz.plugins.capabilities``)."""
        offered = self.registry("capabilities.by_name",
                                lambda: capabilities.providers(self.collect("capabilities")))
        return offered.get(name)

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
        """``(plugin name, item)`` pairs in the host's order: for things the platform must
        attribute to their plugin (blueprints, models, translations). Errors pass through:
        these are start-up registrations."""
        pairs: list[tuple[str, Any]] = []
        caller = getattr(self.pm.hook, name)
        active = self.active_names() if not include_inactive else None
        by_name = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
        for plugin_name, registered in self._in_order():
            impl = by_name.get(registered)
            if impl is None or (active is not None and plugin_name not in active):
                continue
            args = {a: kwargs[a] for a in impl.argnames}
            result = impl.function(**args)
            for item in result or ():
                pairs.append((plugin_name, item))
        return pairs

    def call_plugin(self, plugin: str, name: str, **kwargs: Any) -> Any:
        """Call ``plugin``'s own implementation of hook ``name`` (switched on or not; errors
        pass through), or return ``None`` when it has none: for catching one plugin up, such
        as the customer merges done while it was switched off."""
        caller = getattr(self.pm.hook, name)
        mine = set(self.registrations.get(plugin, ()))
        for impl in caller.get_hookimpls():
            if impl.plugin_name in mine:
                return impl.function(**{a: kwargs[a] for a in impl.argnames})
        return None

    def implementers(self, name: str) -> list[str]:
        """Installed plugins implementing hook ``name`` (switched on or not), in order."""
        caller = getattr(self.pm.hook, name, None)
        having = {self.owners.get(impl.plugin_name) for impl in caller.get_hookimpls()} \
            if caller else set()
        return [n for n in self.order if n in having]

    def _in_order(self) -> list[tuple[str, str]]:
        """``(plugin, registration name)`` in the host's order (the core's modules in their
        listed order)."""
        return [(plugin, reg) for plugin in self.order for reg in self.registrations[plugin]]

    # -- start-up checks ---------------------------------------------------
    def setup_problems(self, roles: Iterable[str]) -> list[str]:
        """What keeps these plugins from starting: ownership violations (names without the
        plugin's prefix, grants to unknown roles), capabilities offered twice, hook wrappers.
        ``roles`` are the names of the roles that exist."""
        found = ownership.problems(
            lambda hook: self.collect_by_plugin(hook, include_inactive=True),
            self.is_core, roles, [(p, h) for h, p in self.declared_hooks.items()])
        found += capabilities.duplicate_providers(
            self.collect_by_plugin("capabilities", include_inactive=True))
        for caller_name, caller in vars(self.pm.hook).items():
            for impl in caller.get_hookimpls():
                if impl.hookwrapper or impl.wrapper:
                    found.append(f"plugin '{impl.plugin_name}' wraps hook '{caller_name}': "
                                 f"hook wrappers are not supported (the order is explicit)")
        return found


class HookCall:
    """The switched-on implementations of one hook, called in order under its failure policy
    (``carebiz.plugins.isolation``). Built once per hook and switched-on set."""

    def __init__(self, host: PluginHost, name: str,
                 impls: tuple[tuple[str, Callable[..., Any], tuple[str, ...]], ...],
                 policy: isolation.Policy, firstresult: bool):
        self.host = host
        self.name = name
        self.impls = impls
        self.policy = policy
        self.firstresult = firstresult
        self.placeholder = isolation.PLACEHOLDERS.get(name)

    def __call__(self, **kwargs: Any) -> Any:
        results: list[Any] = []
        for plugin, function, argnames in self.impls:
            try:
                args = {a: kwargs[a] for a in argnames}
            except KeyError as exc:
                raise TypeError(f"hook '{self.name}' called without argument {exc}") from None
            if self.policy == "propagate":
                result = function(**args)
            else:
                try:
                    result = function(**args)
                except Exception as exc:  # a plugin's bug must not take the page down
                    if self.policy == "fail_closed":
                        raise isolation.refused(self.name, plugin, exc) from exc
                    isolation.left_out(self.name, plugin, exc)
                    if self.placeholder is None:
                        continue
                    manifest = self.host.manifests.get(plugin, self.host.manifests[CORE])
                    result = [self.placeholder(plugin, manifest)]
            if self.firstresult:
                if result is not None:
                    return result
                continue
            results.append(result)
        return None if self.firstresult else results
