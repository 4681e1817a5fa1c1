"""Domain events of the hello plugin, declared in one place so receivers know what to expect.

Sender: the Flask app. Every signal is sent only after the transaction that caused it commits
(see :func:`carebiz.events.emit`); a rollback means it is never sent.
"""

from blinker import Namespace

_ns = Namespace()

greeting_created = _ns.signal("hello.greeting.created", doc="""A greeting was written.
Sender: the Flask app. Arguments: ``greeting_id`` (int), ``branch_id`` (int),
``customer_id`` (int or None), ``author_id`` (int or None), ``message`` (str).""")

ALL = [greeting_created]
