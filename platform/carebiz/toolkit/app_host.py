"""The plugin host of the running app, for plugin code that asks other plugins for something:
a capability (``host().capability("parts.stock_reservation")``), a hook a plugin declared
(``host().call("wash_discount", …)``) or a business setting (``settings.get(session, host(),
key)``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from carebiz.plugins.host import PluginHost


def host() -> PluginHost:
    """The current app's plugin host (needs an app context: a request, a command, a job)."""
    return current_app.extensions["carebiz"].host  # type: ignore[no-any-return]
