"""Signals of the currency area. Sender: the Flask app. Each is sent after the sender's
transaction commits (:func:`carebiz.events.emit`); a rollback means it is never sent."""

from carebiz.signals import declare

rate_added = declare(
    "currency.rate_added", "An exchange rate was entered or imported.",
    sent_by="carebiz.currency.rates.add_rate (also for each row of import_rates_csv)",
    arguments={"rate_id": "int", "base": "str", "quote": "str", "rate": "str, a decimal",
               "valid_from": "ISO date str", "source": "str"})

ALL = [rate_added]
