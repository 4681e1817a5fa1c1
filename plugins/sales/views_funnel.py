"""The conversion funnel's page (``/sales/funnel``) and its CSV (``/sales/funnel.csv``):
the prospects registered from ``from`` to ``to`` (default: this month up to today) broken
down by ``by`` (``source``, ``salesperson`` or ``month``), each step's count and its rate
from the step before. Every count links to the prospect list filtered to exactly the
prospects it counts; the numbers come from :func:`.services.funnel.funnel`."""

from __future__ import annotations

import calendar
import codecs
import csv
import datetime as dt
import io
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from carebiz import db
from carebiz.export.csv_format import inert
from carebiz.toolkit import require, today

from .services import funnel as rules
from .services.choices import SOURCE_LIST
from .services.dashboard import user_names

bp = Blueprint("sales_funnel", __name__, url_prefix="/sales", template_folder="templates")

def _by_label(by: str) -> str:
    return {"source": _("Source"), "salesperson": _("Salesperson"), "month": _("Month")}[by]


def _date(name: str, default: dt.date) -> dt.date:
    text = request.args.get(name, "")
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(400, _("“%(text)s” is not a date: write it as YYYY-MM-DD.", text=text[:40]))


def _arguments() -> tuple[dt.date, dt.date, str]:
    """``from``, ``to`` and ``by`` of the request; nonsense is a 400 saying what is wrong."""
    day = today()
    first, last = _date("from", day.replace(day=1)), _date("to", day)
    if first > last:
        abort(400, _("The period starts after it ends."))
    by = request.args.get("by") or "source"
    if by not in rules.BREAKDOWNS:
        abort(400, _("Break the funnel down by one of: %(allowed)s.",
                     allowed=", ".join(rules.BREAKDOWNS)))
    return first, last, by


def step_args(first: dt.date, last: dt.date, step: str) -> dict[str, str]:
    """The prospect list's arguments for the prospects counted at ``step`` of the period."""
    args = {"registered_from": first.isoformat(), "registered_to": last.isoformat()}
    if step != "prospects":
        args["reached"] = step
    return args


def _group_args(by: str, key: str, first: dt.date, last: dt.date) -> dict[str, str] | None:
    """What narrows the list to one group (None: the group cannot be listed on its own,
    e.g. prospects without a source)."""
    if not key:
        return None
    if by == "source":
        return {"source": key}
    if by == "salesperson":
        return {"salesperson_id": key}
    try:
        year, month = (int(part) for part in key.split("-")[:2])
        start = dt.date(year, month, 1)
    except ValueError:
        return None
    end = start.replace(day=calendar.monthrange(year, month)[1])
    return {"registered_from": max(first, start).isoformat(),
            "registered_to": min(last, end).isoformat()}


def _named(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The groups with the labels people read (a source's label, a salesperson's name)."""
    by = result["by"]
    names = user_names(db.session(), [g["key"] for g in result["groups"]]) \
        if by == "salesperson" else {}
    for group in result["groups"]:
        key = group["key"]
        if by == "source":
            group["label"] = SOURCE_LIST.label(key) if key else "—"
        elif by == "salesperson":
            group["label"] = names.get(int(key), key) if key else "—"
    return result["groups"]


def funnel_of_request() -> tuple[dt.date, dt.date, str, dict[str, Any]]:
    first, last, by = _arguments()
    result = rules.funnel(db.session(), current_user, first, last, by)
    _named(result)
    return first, last, by, result


@bp.get("/funnel")
@require("sales.view")
def page() -> Any:
    first, last, by, result = funnel_of_request()

    def link(step: str, group: dict[str, Any] | None = None) -> str | None:
        args = step_args(first, last, step)
        if group is not None:
            narrow = _group_args(by, group["key"], first, last)
            if narrow is None:
                return None
            args.update(narrow)
        return url_for("sales.prospects", **args)

    return render_template("sales/funnel.html", result=result, first=first, last=last,
                           by=by, by_label=_by_label(by), breakdowns=rules.BREAKDOWNS,
                           by_labels={k: _by_label(k) for k in rules.BREAKDOWNS},
                           steps=rules.STEPS, link=link)


def _percent(value: Any) -> str:
    return "" if value is None else str(value)


@bp.get("/funnel.csv")
@require("sales.view")
def csv_file() -> Any:
    """The page's table as CSV (UTF-8 with a BOM, which Excel in China needs): a row per
    group and a total, each step's count then each step's rate in percent."""
    first, last, by, result = funnel_of_request()
    out = io.StringIO()
    writer = csv.writer(out)
    labels = [str(label) for label in rules.STEPS.values()]
    writer.writerow([_by_label(by), *labels,
                     *(_("%(step)s, %% of the step before", step=s) for s in labels[1:])])
    for name, steps in [*((g["label"], g["steps"]) for g in result["groups"]),
                        (_("Total"), result["total"])]:
        writer.writerow([inert(name), *(s["count"] for s in steps),
                         *(_percent(s["rate"]) for s in steps[1:])])
    body = codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
    filename = f"sales-funnel-{by}-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
