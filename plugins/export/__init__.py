"""Export: xlsx, docx, html, txt and pdf writers for :class:`carebiz.export.table.Table`.

A built-in plugin, found through the ``carebiz.plugins`` entry point ``export`` like any
third-party one. The core writes CSV itself; this plugin adds the other formats."""

__version__ = "0.1.0"
