"""Currencies (ISO 4217 from Babel), dated exchange rates and conversion: money is a
``Decimal`` with its currency everywhere, and a missing rate is an error, never 1.0."""
