"""GPS plugin: a GT06 tracker server, live map, playback, mileage, alarms, geofences and
remote cut-off for vehicles of the core (import ``carebiz_plugins.gps``)."""

__version__ = "0.1.0"
