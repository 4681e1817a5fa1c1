"""Charts of an analysis, rendered to SVG on the server with pygal.

pygal's interactive tooltips load JavaScript from a CDN; the platform serves no third-party
script, so charts are rendered with ``js=[]`` (plain, static SVG)."""

from __future__ import annotations

from typing import Any

import pygal
from pygal.style import DefaultStyle

#: the page's own sans-serif (Chinese included) at a readable size, not pygal's monospace
STYLE = DefaultStyle(
    font_family="system-ui, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', 'Helvetica Neue', "
                "Arial, sans-serif",
    label_font_size=12, major_label_font_size=12, legend_font_size=13, title_font_size=15,
    value_font_size=12, tooltip_font_size=12)

KINDS = ("bar", "line", "pie", "stacked")


def _label(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _group(row: dict[str, Any], key: str) -> str:
    """A group's label: the answer's ``labels`` (choice label, branch name, period) if any."""
    return _label((row.get("labels") or {}).get(key, row.get(key)))


def _text_width(text: str, size: int = 12) -> float:
    """About how wide ``text`` is in pixels: Chinese characters are full width (pygal's own
    estimate counts every character as half width, so Chinese labels ran into the legend)."""
    return sum(size if ord(ch) > 0x2E7F else size * 0.6 for ch in text)


def _x_label_layout(labels: list[str], width: int = 800) -> dict[str, Any]:
    """Straight x labels when they fit side by side, else turned 30° with the bottom margin
    grown to hold the longest one."""
    widest = max((_text_width(label) for label in labels), default=0.0)
    if not labels or widest * len(labels) < width * 0.8:
        return {"x_label_rotation": 0}
    return {"x_label_rotation": 30, "margin_bottom": 20 + int(widest * 0.5)}


def render(result: dict[str, Any], kind: str = "bar", title: str = "",
           locale: str | None = None) -> bytes:
    """The SVG of an :func:`carebiz.query.service.aggregate` result.

    One grouping: the groups along the x axis, a series per measure. Two groupings: the first
    along the x axis, a series per value of the second (first measure only). Labels and
    legends are never cut short (pygal truncates them by default); long x labels are turned
    and the bottom margin grows to hold them; values are written in the reader's locale."""
    from babel.numbers import format_decimal

    def number(value: Any) -> str:
        if value is None:
            return ""
        # whole figures on a money axis (865,886 not 865,886.4); small values keep decimals
        pattern = "#,##0" if abs(value) >= 1000 or value == int(value) else None
        return format_decimal(value, format=pattern, locale=locale or "en")

    config = {"js": [], "style": STYLE, "title": title or None,
              "x_label_rotation": 30, "show_minor_x_labels": True, "width": 800,
              "height": 440, "disable_xml_declaration": False,
              "truncate_legend": -1, "truncate_label": -1, "legend_at_bottom": True,
              "legend_at_bottom_columns": 3, "margin_bottom": 20, "margin_left": 20,
              "include_x_axis": True,  # bars and axes start at zero
              "value_formatter": number}
    chart_class = {"bar": pygal.Bar, "line": pygal.Line, "pie": pygal.Pie,
                   "stacked": pygal.StackedBar}[kind]
    groups, measures, rows = result["group_by"], result["measures"], result["rows"]
    config.update(_x_label_layout([_group(row, groups[0]) for row in rows]))
    chart = chart_class(**config)
    if len(groups) == 1:
        labels = [_group(row, groups[0]) for row in rows]
        if kind == "pie":
            for label, row in zip(labels, rows, strict=True):
                if _number(row[measures[0]]) is not None:
                    chart.add(label, _number(row[measures[0]]))
        else:
            chart.x_labels = labels
            formats = result.get("formats") or {}
            first = formats.get(measures[0])
            for measure in measures:
                values = [_number(row[measure]) for row in rows]
                if all(value is None for value in values):
                    continue  # a lowest date or name is no bar (pygal fails on it)
                # a count beside a sum of money would be a flat line on the money's axis:
                # a measure of another kind than the first gets the right-hand axis
                chart.add(measure, values,
                          secondary=kind != "stacked" and formats.get(measure) != first)
    else:
        first, second = groups
        measure = measures[0]
        xs = list(dict.fromkeys(_group(row, first) for row in rows))
        series: dict[str, dict[str, Any]] = {}
        for row in rows:
            series.setdefault(_group(row, second), {})[_group(row, first)] = _number(
                row[measure])
        series = {name: values for name, values in series.items()
                  if any(v is not None for v in values.values())}
        if kind == "pie":
            for name, values in series.items():
                chart.add(name, sum(v or 0 for v in values.values()))
        else:
            chart.x_labels = xs
            for name, values in series.items():
                chart.add(name, [values.get(x) for x in xs])
    return chart.render()
