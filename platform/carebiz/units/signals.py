"""Signals of the units area. Sender: the Flask app. Each is sent after the sender's
transaction commits (:func:`carebiz.events.emit`); a rollback means it is never sent."""

from carebiz.signals import declare

packaging_unit_defined = declare(
    "units.packaging_defined", "A packaging unit was defined.",
    sent_by="carebiz.units.services.define_packaging_unit",
    arguments={"unit_id": "int", "name": "str", "base_unit": "str",
               "factor": "str, a decimal"})

ALL = [packaging_unit_defined]
