"""Units in categories, physical conversions through pint, and business packaging units
(a box of 12, a drum of 200 L) that convert to their base unit."""
