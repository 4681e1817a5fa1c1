"""Where to go after a form: the ``next`` target a link or form carries, accepted only when
it is a path of this site, so a crafted link cannot send a user to another site after they
log in or save (an open redirect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import redirect, url_for
from werkzeug.wrappers import Response


def safe_next(target: str | None, default: str | None = None) -> str | None:
    """``target`` when it is a local path (``/customers/12?tab=vehicles``), else
    ``default``.

    Refused: absolute URLs (``https://evil.example``), scheme-relative ones
    (``//evil.example``), backslashes (browsers read ``/\\evil.example`` as another host) and
    control characters (a header split)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def redirect_next(target: str | None, endpoint: str = "home.index",
                  **values: Any) -> Response:
    """A redirect to the safe ``next`` target, else to ``endpoint`` (with ``values``)."""
    return redirect(safe_next(target) or url_for(endpoint, **values))
