"""Domain events of the hello plugin, declared in one place so receivers know what to expect.

Sender: the Flask app. Every signal is sent only after the transaction that caused it commits
(see :func:`carebiz.events.emit`); a rollback means it is never sent.
"""

from carebiz.signals import declare

greeting_created = declare(
    "hello.greeting.created", "A greeting was written.",
    sent_by="carebiz_hello.services.create_greeting",
    arguments={"greeting_id": "int", "branch_id": "int", "customer_id": "int or None",
               "author_id": "int or None", "message": "str"})

ALL = [greeting_created]
