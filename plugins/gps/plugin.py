"""The plugin module named by the ``carebiz.plugins`` entry point ``gps``.

The manifest says who the plugin is; the hook implementations hand the platform what GPS
adds (tables, permissions, settings, row filters, commands). They only compose: the work is
done in ``services`` and ``ingest``. Other parts of the plugin (API, pages, alarms, rules) add
their hook lines in the clearly marked blocks below.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import false, select

from carebiz import hookimpl
from carebiz.contributions import Permission, SettingSpec
from carebiz.db import Base
from carebiz.plugins import PluginManifest

from . import __version__
from . import models as gps_models

if TYPE_CHECKING:
    import click

manifest = PluginManifest(
    name="gps",
    version=__version__,
    label=_l("GPS tracking"),
    description=_l("GT06 trackers and phone apps: live map, playback, mileage, alarms, "
                   "geofences and remote cut-off of vehicles."),
    package="carebiz_plugins.gps",
)

#: built-in roles that see tracked vehicles (admin is a superuser and needs no grant)
READERS = ("manager", "salesperson", "read_only")


def _tables() -> list[type[Base]]:
    """Every ``gps_…`` model declared in :mod:`.models`."""
    return [obj for _name, obj in inspect.getmembers(gps_models, inspect.isclass)
            if issubclass(obj, Base) and obj.__module__ == gps_models.__name__
            and str(getattr(obj, "__tablename__", "")).startswith("gps_")]


@hookimpl
def models() -> list[type[Base]]:
    return _tables()


@hookimpl
def permissions() -> list[Permission]:
    return [
        Permission("gps.view", _l("See tracked vehicles, positions, trips and alarms"),
                   default_roles=READERS, weight=600),
        Permission("gps.manage", _l("Register trackers, assign pending devices, edit "
                                    "geofences and groups"),
                   default_roles=("manager",), weight=601),
        # remote fuel/power cut-off stops a moving car: no built-in role holds it (admins
        # are superusers); an admin grants it to the few people who may
        Permission("gps.commands", _l("Send remote cut-off and restore commands"),
                   default_roles=(), weight=602),
    ]


@hookimpl
def settings() -> list[SettingSpec]:
    return [
        SettingSpec("gps.max_jump_kmh", 300, _l("Fastest plausible speed between two fixes "
                                                 "(km/h); faster jumps count no distance"),
                    type="int", weight=600),
        SettingSpec("gps.moving_kmh", 3, _l("Speed above which a vehicle counts as moving "
                                             "(km/h)"), type="int", weight=601),
        SettingSpec("gps.retention_months", 0, _l("Months of positions to keep (0: keep "
                                                   "all)"), type="int", weight=602),
        SettingSpec("gps.tile_url", "", _l("Map tile URL (empty: plain background)"),
                    weight=603),
    ]


@hookimpl
def row_filters(model: type[Base], user: Any) -> list[Any] | None:
    """Positions, live state, trips, stops and daily mileage carry no branch of their own:
    a user sees them for the devices of the branches they work in (same rule as the core's
    branch rule on the device)."""
    if model not in gps_models.DEVICE_SCOPED:
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return [false()]
    if user.all_branches or user.is_superuser:
        return None
    ids = sorted(user.branch_ids)
    if not ids:
        return [false()]
    device = gps_models.GpsDevice
    return [model.device_id.in_(  # type: ignore[attr-defined]
        select(device.id).where(device.branch_id.in_(ids)))]


@hookimpl
def cli_commands() -> list[click.Command]:
    from .cli import gps_cli

    return [gps_cli]


# --- hooks of the other GPS parts (gapi: api_blueprints, query_sources, reports;
# --- gpages: web_blueprints, menu_items, vehicle_panels, customer_panels; grules: none)
# --- go below this line, each in its own block ---------------------------------------------

# gpages (waits for gapi's api.py; switch on together, and drop the skip marks in
# tests/test_pages_gps.py and tests/test_gps_browser.py):
#   web_blueprints -> [views.bp]; menu_items(user) -> views.menu_items();
#   customer_panels / vehicle_panels -> panel.customer_panel / panel.vehicle_panel;
#   export_tables -> [ExportTable.of_list(device_list.DEVICES)];
#   settings += SettingSpec("gps.tile_attribution", "", _l("Map tile attribution"));
#   tests/test_list_definitions.py argument_sets += "gps.devices".


# gnotify (alarms through the core notify service, position enquiries by text message;
# plugins/gps/notify.py):
@hookimpl
def event_receivers() -> list[Any]:
    from .notify import receivers

    return receivers()


@hookimpl
def inbound_message(session: Any, text: str, user: Any) -> str | None:
    from .notify import position_reply

    return position_reply(session, text, user)
