"""Plugin B of the capability tests: uses ``stock.reservation`` when present."""
