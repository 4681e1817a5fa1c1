"""What happens when a plugin raises inside a hook: the policy of each hook, in one place.

One plugin must not take down pages it has nothing to do with, and it must never widen what a
user may see. So the host (``PluginHost.call``, the only place hooks are called) treats a
failing implementation according to the hook:

- *composition* hooks (panels, menus, export tables …) leave the failing plugin out of that
  answer and log the error; panels get a "this panel is unavailable" placeholder instead;
- *security* hooks (``permissions``, ``row_filters``) fail closed: the request is refused
  with :class:`PluginUnavailable` (503 in the standard error shape), never answered unfiltered;
- every other hook (start-up registrations, ``demo_data``, ``customer_merge`` …) lets the
  error through, as a plain call would: start-up stops, a merge is rolled back whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from flask_babel import gettext as _
from markupsafe import Markup, escape

from carebiz.contributions import Panel
from carebiz.errors import ServiceError

if TYPE_CHECKING:
    from carebiz.plugins.manifest import PluginManifest

log = logging.getLogger("carebiz.plugins")

Policy = Literal["isolate", "fail_closed", "propagate"]

#: hooks whose answer is composed of every plugin's part: a failing part is left out
COMPOSITION: frozenset[str] = frozenset({
    "menu_items", "customer_panels", "vehicle_panels", "timeline_kinds", "query_sources",
    "reports", "export_formats", "export_tables", "document_types", "record_pages",
    "customer_lookup", "exchange_rates", "capabilities", "home_widgets", "audit_labels",
    "notification_channels", "inbound_message",
})

#: hooks that decide what a user may do or see: a failure refuses the request
SECURITY: frozenset[str] = frozenset({"permissions", "row_filters"})


class PluginUnavailable(ServiceError):
    """A plugin failed while the platform checked access: the request is refused rather than
    answered with fewer restrictions than intended."""

    status = 503
    code = "plugin_unavailable"


def policy_of(name: str, declared: dict[str, Policy]) -> Policy:
    """The policy of hook ``name``: the core's lists above, else what the plugin declaring
    the hook chose (``isolate`` unless it listed the hook in ``FAIL_CLOSED``)."""
    if name in SECURITY:
        return "fail_closed"
    if name in COMPOSITION:
        return "isolate"
    return declared.get(name, "propagate")


def unavailable_panel(plugin: str, manifest: PluginManifest) -> Panel:
    """Stands where the panel of a failing plugin would be, so the page says what is missing
    instead of silently showing less."""
    text = escape(_("This panel is unavailable."))
    html = Markup('<p class="text-body-secondary mb-0" data-panel-unavailable>{}</p>').format(
        text)
    return Panel(f"{plugin}.unavailable", manifest.label, str(html), weight=1000,
                 summary={"unavailable": True, "plugin": plugin})


#: hook name -> what to answer in place of a failing plugin's contribution
PLACEHOLDERS: dict[str, Callable[[str, PluginManifest], object]] = {
    "customer_panels": unavailable_panel,
    "vehicle_panels": unavailable_panel,
    "home_widgets": unavailable_panel,
}


def left_out(hook: str, plugin: str, exc: BaseException) -> None:
    """Log a failing implementation with its traceback (once per call)."""
    log.error("plugin %r failed in hook %r and is left out of this answer: %s: %s",
              plugin, hook, type(exc).__name__, exc, exc_info=exc)


def refused(hook: str, plugin: str, exc: BaseException) -> PluginUnavailable:
    """The error refusing a request whose security hook failed (logged with its cause)."""
    log.error("plugin %r failed in security hook %r; the request is refused: %s: %s",
              plugin, hook, type(exc).__name__, exc, exc_info=exc)
    return PluginUnavailable(_("A subsystem could not check your access, so this request was "
                               "refused. Try again later or tell an administrator."))
