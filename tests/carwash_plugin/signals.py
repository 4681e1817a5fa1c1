"""The car wash's own domain event."""

from carebiz.signals import declare

ticket_finished = declare(
    "wash.ticket.finished", "A car was washed and its ticket closed.",
    sent_by="tests.carwash_plugin.services.finish_ticket",
    arguments={"ticket_id": "int", "party_id": "int", "price": "str (a decimal)"})
