"""Switching subsystems (plugins) on and off for a business, closed over dependencies."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.errors import NotFound, ValidationFailed
from carebiz.events import Audit, emit
from carebiz.i18n import N_
from carebiz.models import PluginState
from carebiz.plugins.manifest import CORE
from carebiz.signals import core as signals


def _check(host: Any, name: str) -> None:
    if name == CORE:
        raise ValidationFailed(_("The platform core cannot be switched off."))
    if name not in host.names:
        installed = ", ".join(host.names) or _("none")
        raise NotFound(_("No installed plugin named '%(name)s' (installed: %(installed)s).",
                         name=name, installed=installed))


def switch(session: Session, host: Any, name: str, enabled: bool, actor: str = "") -> list[str]:
    """Switch ``name`` on (with everything it requires) or off (with everything that requires
    it). Only the switch rows change; the plugins' own data stays untouched, except that a
    plugin switched on is handed the customer merges done while it was off. Returns the
    names whose state changed."""
    _check(host, name)
    names = host.closure_to_enable(name) if enabled else host.closure_to_disable(name)
    active = host.active_names()
    changed = sorted(n for n in names if (n in active) != enabled)
    for n in sorted(names):
        state = session.get(PluginState, n)
        if state is None:
            session.add(PluginState(name=n, enabled=enabled, changed_by=actor))
        elif state.enabled != enabled:
            state.enabled = enabled
            state.changed_by = actor
    session.flush()
    host.invalidate()
    if enabled:
        from carebiz.crm.services.merge import reconcile_pending

        for n in changed:
            reconcile_pending(session, host, n)
    if changed:
        emit(session, signals.plugin_switched, enabled=enabled, names=changed,
             audit=Audit("plugin", name,
                         N_("Switched on: %(names)s") if enabled else N_("Switched off: %(names)s"),
                         None, {"enabled": enabled, "names": changed},
                         args={"names": ", ".join(changed)}))
    return changed
