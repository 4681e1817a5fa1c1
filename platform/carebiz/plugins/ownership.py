"""Ownership rules, checked when the app starts: every name a plugin registers carries its
prefix, so two plugins can never claim the same table, permission, setting or hook.

- tables (``models()`` → ``__tablename__``, and ``__carebiz_extra_tables__``): ``<plugin>_``;
- permissions and settings keys: ``<plugin>.``;
- hook specifications a plugin declares (``hookspecs()``): ``<plugin>_``;
- a permission's ``default_roles`` name roles that exist (the built-in roles).

The core's own registrations are exempt: they are the platform (``crm.``, ``admin.`` …).
A violation stops start-up with one line per offending name, naming the plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def table_names(model: Any) -> list[str]:
    """The tables a model class brings: its own and any extra ones it declares."""
    names = [model.__table__.name]
    names.extend(t.name for t in getattr(model, "__carebiz_extra_tables__", ()))
    return names


def problems(
    collect: Callable[[str], Iterable[tuple[str, Any]]],
    is_core: Callable[[str], bool],
    roles: Iterable[str],
    declared_hooks: Iterable[tuple[str, str]],
) -> list[str]:
    """Every ownership violation among the installed plugins.

    :param collect: ``hook name -> (plugin, item)`` pairs of every installed plugin, switched
        on or not (``PluginHost.collect_by_plugin(..., include_inactive=True)``).
    :param is_core: whether a plugin name is part of the core (exempt from the rules).
    :param roles: the names of the roles that exist.
    :param declared_hooks: ``(plugin, hook name)`` for every hook specification a plugin
        declared.
    """
    known_roles = set(roles)
    found: list[str] = []
    for plugin, model in collect("models"):
        if is_core(plugin):
            continue
        for table in table_names(model):
            if not table.startswith(f"{plugin}_"):
                found.append(f"plugin '{plugin}' declares table '{table}': its tables must be "
                             f"named '{plugin}_…'")
    for plugin, permission in collect("permissions"):
        if not is_core(plugin) and not permission.name.startswith(f"{plugin}."):
            found.append(f"plugin '{plugin}' registers permission '{permission.name}': its "
                         f"permissions must be named '{plugin}.…'")
        for role in permission.default_roles:
            if role not in known_roles:
                found.append(f"plugin '{plugin}' grants permission '{permission.name}' to "
                             f"role '{role}', which does not exist (roles: "
                             f"{', '.join(sorted(known_roles))})")
    for plugin, spec in collect("settings"):
        if not is_core(plugin) and not spec.key.startswith(f"{plugin}."):
            found.append(f"plugin '{plugin}' registers setting '{spec.key}': its settings "
                         f"must be named '{plugin}.…'")
    for plugin, hook in declared_hooks:
        if not is_core(plugin) and not hook.startswith(f"{plugin}_"):
            found.append(f"plugin '{plugin}' declares hook '{hook}': the hooks it declares "
                         f"must be named '{plugin}_…'")
    return found
