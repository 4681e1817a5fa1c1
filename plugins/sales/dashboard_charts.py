"""The dashboard's charts as static SVG, drawn by the core's pygal renderer
(:func:`carebiz.query.charts.render`, the one the query pages use: no script, labels never
cut, numbers in the reader's locale), so the sales dashboard looks like every other chart
of the platform."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from carebiz.query import charts

from .labels import PROSPECT_STATUS

_SCRIPT = re.compile(r"(?s)<script\b.*?</script>")


def _inline(svg: bytes) -> Markup:
    """pygal's document without its XML declaration, to sit inside the page's HTML, and
    without the inline config script pygal writes even with ``js=[]`` (it drives nothing
    here, and inside a page it would be an inline script the page's policy refuses)."""
    text = _SCRIPT.sub("", svg.decode("utf-8"))
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2:]
    return Markup(text.strip())  # noqa: S704 - pygal's own escaped SVG


def _locale() -> str:
    return str(get_locale() or "en")


def breakdown(items: Sequence[Mapping[str, Any]], title: str) -> Markup:
    """A bar per ``{"label", "count"}`` of a dashboard breakdown."""
    measure = _("Deals won")
    result = {"group_by": ["label"], "measures": [measure],
              "rows": [{"label": item["label"], measure: item["count"]} for item in items]}
    return _inline(charts.render(result, "bar", title, locale=_locale()))


def trend(months: Sequence[Mapping[str, Any]], title: str) -> Markup:
    """Won and lost per month, a line each."""
    won, lost = str(PROSPECT_STATUS["won"]), str(PROSPECT_STATUS["lost"])
    result = {"group_by": ["month"], "measures": [won, lost],
              "rows": [{"month": m["month"], won: m["won"], lost: m["lost"]} for m in months]}
    return _inline(charts.render(result, "line", title, locale=_locale()))


def funnel(steps: Sequence[Mapping[str, Any]], title: str) -> Markup:
    """The conversion funnel: a bar per step, first to last (each a subset of the one
    before, so the bars shrink as a funnel does)."""
    measure = _("Prospects")
    result = {"group_by": ["step"], "measures": [measure],
              "rows": [{"step": s["label"], measure: s["count"]} for s in steps]}
    return _inline(charts.render(result, "bar", title, locale=_locale()))
