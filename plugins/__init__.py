"""Built-in CareBusiness plugins (``carebiz_plugins.<name>``).

Each subfolder is one plugin, found through the ``carebiz.plugins`` entry-point group exactly
like a third-party plugin; nothing imports this package to discover them.
"""
