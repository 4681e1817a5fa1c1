"""The permissions GPS adds and the built-in roles that hold them by default (the
``permissions`` hook in :mod:`.plugin` returns :func:`permission_specs`).

Kept beside each other, apart from the hooks, so the grants of tracking and of logistics
read as one table and their weights (600-604) never collide.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from carebiz.contributions import Permission

#: built-in roles that see tracked vehicles (admin is a superuser and needs no grant)
READERS = ("manager", "salesperson", "read_only")


def permission_specs() -> list[Permission]:
    """Every GPS permission, tracking's first, then logistics'."""
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
        *logistics_permissions(),
    ]


# --- gsubs: service subscriptions and waybills -----------------------------------------------


def logistics_permissions() -> list[Permission]:
    """Scanning waybills is counter work (salespeople too); renewing subscriptions takes
    money, so only managers by default."""
    return [
        Permission("gps.waybills", _l("Receive waybills and scan their status changes"),
                   default_roles=("manager", "salesperson"), weight=603),
        Permission("gps.subscriptions", _l("Renew trackers' service subscriptions"),
                   default_roles=("manager",), weight=604),
    ]
