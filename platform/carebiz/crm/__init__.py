"""Core CRM: parties (customers of every kind), vehicles by VIN, the timeline, value and
segments, lookup and the 360° view. Part of the platform core, available whatever plugins
are switched on; plugins contribute panels, timeline kinds, lookups and merge handling."""
