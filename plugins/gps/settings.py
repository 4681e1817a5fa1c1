"""The settings GPS adds to the admin's settings page (the ``settings`` hook in
:mod:`.plugin` returns :func:`setting_specs`).

They live here, apart from the hooks, because several parts of the plugin (tracking,
logistics, the OsmAnd HTTP ingest, the alarm rules) each add a few: one module holding every
spec keeps their weights visible side by side, so two parts never pick the same one.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from carebiz.contributions import SettingSpec


def setting_specs() -> list[SettingSpec]:
    """Every GPS setting, in the order of the settings page (by weight)."""
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
        *logistics_settings(),
        *osmand_settings(),
        SettingSpec("gps.tile_attribution", "", _l("Map tile attribution"), weight=606),
        # --- grules: alarm rules (services/alarms.py reads them) ---
        SettingSpec("gps.overspeed_hysteresis_kmh", 2,
                    _l("An overspeed episode ends when the speed falls this far below the "
                       "limit (km/h)"), type="int", weight=607),
        # --- end grules ---
    ]


# --- gsubs: service subscriptions and waybills -----------------------------------------------


def logistics_settings() -> list[SettingSpec]:
    """Prices and reminders of the tracking service, and the life of waybill links."""
    return [
        SettingSpec("gps.subscription_price", "360", _l("Yearly price of the tracking "
                                                        "service"), type="decimal", weight=610),
        SettingSpec("gps.subscription_currency", "CNY", _l("Currency of the tracking "
                                                           "service's price"), weight=611),
        SettingSpec("gps.subscription_first_year_free", True, _l("First year of the tracking "
                                                                 "service free"),
                    type="bool", weight=612),
        SettingSpec("gps.subscription_reminder_days", 7, _l("Days before a subscription ends "
                                                            "that the customer is reminded"),
                    type="int", weight=613),
        SettingSpec("gps.waybill_token_days", 7, _l("Days a waybill's public tracking link "
                                                    "stays valid"), type="int", weight=614),
        # notice: status notices to the consignee (notify_consignee.py)
        SettingSpec("gps.waybill_consignee_notices", True,
                    _l("Send waybill status notices to the consignee"), type="bool",
                    weight=615),
        SettingSpec("gps.waybill_consignee_notices_off", "",
                    _l("Branches whose waybills send the consignee no notices (branch "
                       "codes, comma-separated)"), weight=616),
    ]


# --- gscale: the OsmAnd HTTP ingest (its route is ingest/http.py's bp) ------------------------


def osmand_settings() -> list[SettingSpec]:
    """Off by default: the route takes positions without a login (the IMEI is the key)."""
    return [
        SettingSpec("gps.osmand_enabled", False, _l("Accept positions from phone apps over "
                                                     "HTTP at /gps/osmand (OsmAnd protocol)"),
                    type="bool", weight=604),
        SettingSpec("gps.osmand_rate_limit", "60 per minute",
                    _l("Most positions a phone app may send (e.g. \"60 per minute\"; "
                       "empty: no limit)"), weight=605),
    ]
