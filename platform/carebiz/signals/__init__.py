"""Domain-event signals, one module per area. Import the area you need:
``from carebiz.signals import core``. Plugins declare theirs in their own ``signals`` module."""
