"""Signals of the sample plugin. Sender: the Flask app; sent after commit."""

from blinker import Namespace

_ns = Namespace()

record_created = _ns.signal("sample.record.created", doc="""A sample record was created.
Arguments: ``record_id`` (int).""")
