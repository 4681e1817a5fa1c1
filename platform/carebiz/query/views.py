"""Query pages: the query builder a salesperson can use without training, analysis of the
current result set (a table and a server-rendered SVG chart), saved queries and reports.

Everything the page shows lives in the URL (GET), so a result is bookmarkable: condition rows
are repeated ``f``/``o``/``v`` arguments joined by ``join`` (and/or), ``where`` may carry a
further condition tree as JSON, ``q`` the simple search, ``sort``/``dir`` the order and
``g1``/``b1``/``g2``/``b2``/``m``/``chart`` the analysis. The views are thin: the query
service compiles, checks permissions and applies row filters."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from babel.numbers import format_decimal, get_currency_precision
from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from carebiz import db
from carebiz.errors import ServiceError, ValidationFailed
from carebiz.export.csv_format import inert
from carebiz.i18n import fold
from carebiz.query import charts, labels, operators, reports, service
from carebiz.query import compiler as c
from carebiz.query.models import BRANCH, PRIVATE, ROLE
from carebiz.query.parsing import BadInput, parse_number
from carebiz.toolkit.permissions import EXPORT_PERMISSION, check_permission

bp = Blueprint("query", __name__, url_prefix="/query", template_folder="templates")

PER_PAGE = 50
#: condition rows shown at least (blank ones are ignored), so a page without JavaScript can
#: add conditions
MIN_ROWS = 3

OP_LABELS: dict[str, Any] = {
    "eq": _l("is"), "ne": _l("is not"), "lt": _l("less than / before"),
    "le": _l("at most"), "gt": _l("more than / after"), "ge": _l("at least"),
    "between": _l("between"), "in": _l("is one of"),
    "contains": _l("contains"), "starts_with": _l("starts with"),
    "empty": _l("is empty"), "not_empty": _l("is not empty"),
    "today": _l("today"), "yesterday": _l("yesterday"), "this_week": _l("this week"),
    "last_week": _l("last week"), "this_month": _l("this month"),
    "last_month": _l("last month"), "this_quarter": _l("this quarter"),
    "this_year": _l("this year"), "last_7_days": _l("in the last 7 days"),
    "last_30_days": _l("in the last 30 days"), "last_days": _l("in the last N days"),
}
BUCKET_LABELS: dict[str, Any] = {"day": _l("day"), "week": _l("week"), "month": _l("month"),
                                 "quarter": _l("quarter"), "year": _l("year")}
MEASURE_LABELS: dict[str, Any] = {"sum": _l("Sum of %(field)s"),
                                  "avg": _l("Average of %(field)s"),
                                  "min": _l("Lowest %(field)s"), "max": _l("Highest %(field)s")}
CHART_LABELS: dict[str, Any] = {"bar": _l("Bars"), "line": _l("Line"), "pie": _l("Pie"),
                                "stacked": _l("Stacked bars")}
DATE_TYPES = (operators.DATE, operators.DATETIME)
NUMERIC = (operators.NUMBER, operators.MONEY)


def _user() -> Any:
    return current_user._get_current_object()


def _sess() -> Any:
    return db.session()


# -- state in the URL --------------------------------------------------------------------------


@dataclass
class Row:
    field: str = ""
    op: str = ""
    value: str = ""
    errors: list[str] = dc_field(default_factory=list)
    #: the code a typed value stands for (a label or a branch's name): what its select box
    #: shows picked
    picked: str = ""
    #: the codes an "is one of" stands for: what its multi-select shows picked
    picks: list[str] = dc_field(default_factory=list)


@dataclass
class State:
    """What the builder page shows, read from the URL."""

    rows: list[Row]
    join: str = "and"
    where: Any = None
    where_text: str = ""
    q: str = ""
    sort: str = ""
    direction: str = "asc"
    page: int = 1
    groups: list[tuple[str, str]] = dc_field(default_factory=list)
    measures: list[str] = dc_field(default_factory=list)
    chart: str = "bar"
    errors: dict[str, list[str]] = dc_field(default_factory=dict)
    #: JSON path prefix of the condition rows in the tree, to put errors next to their row
    row_prefix: str = ""
    row_index: list[int] = dc_field(default_factory=list)

    def error(self, key: str, message: Any) -> None:
        self.errors.setdefault(key, []).append(str(message))


def _choice(qfield: Any, text: str) -> str:
    """A choice typed or picked: its code, or its label in any language and case
    (``Champion``, ``核心客户``)."""
    found = labels.choice_code(qfield.choices, text)
    if found is None:
        raise BadInput(_("“%(text)s” is not one of: %(choices)s", text=text,
                         choices=", ".join(str(label) for _key, label in qfield.choices)))
    return found


def _branch(text: str) -> int:
    """A branch typed or picked: its id, code or name (any case)."""
    with contextlib.suppress(ValueError):
        return int(text)
    from carebiz.models.branch import Branch

    lowered = fold(text)
    for branch in _sess().scalars(select(Branch)):
        if lowered in (fold(branch.code), fold(branch.name),
                       fold(f"{branch.name} ({branch.code})")):
            return branch.id
    raise BadInput(_("No branch named “%(text)s”: pick one from the list", text=text))


def _scalar(qfield: Any, text: str) -> Any:
    text = text.strip()
    if qfield.relation == labels.BRANCH_RELATION:
        return _branch(text)
    if qfield.type in (operators.NUMBER, operators.MONEY):
        return parse_number(text)
    if qfield.type == operators.CHOICE and qfield.choices:
        return _choice(qfield, text)
    if qfield.type == operators.BOOL:
        found = labels.yes_no(text)
        if found is not None:
            return found
    return text


#: "is one of" separators: a semicolon, or a comma that is not a thousands separator
_LIST_SEPARATOR = re.compile(r";|,(?!\d{3}(?!\d))")


def row_value(qfield: Any, op: str, text: str | list[str]) -> Any:
    """The JSON value of a condition row typed in the form (several picked values of a
    select box come as a list); raises :class:`BadInput`."""
    if isinstance(text, list):
        picked = [t for t in (p.strip() for p in text) if t]
        if op == "in":
            return [_scalar(qfield, p) for p in picked] or None
        text = picked[0] if picked else ""
    text = (text or "").strip()
    if op in operators.NO_VALUE or text == "":
        return None
    if op == operators.LAST_DAYS:
        return parse_number(text, whole=True)
    if op == "between":
        parts = [p for p in range_parts(qfield, text) if p]
        if len(parts) != 2:
            raise BadInput(_("type two values separated by “..”, e.g. 100,000 .. 200,000"))
        return [_scalar(qfield, p) for p in parts]
    if op == "in":
        separator = _LIST_SEPARATOR if qfield.type in NUMERIC else re.compile(r"[,;]")
        return [_scalar(qfield, p.strip()) for p in separator.split(text) if p.strip()]
    return _scalar(qfield, text)


def range_parts(qfield: Any, text: str) -> list[str]:
    """The two ends of a "between" as typed (``a .. b``; numbers also ``a - b``, other
    values also ``a, b``), untrimmed of nothing but spaces; what its two inputs show."""
    text = (text or "").strip()
    numeric = qfield is not None and qfield.type in NUMERIC
    parts = text.split("..") if ".." in text else (
        re.split(r"\s+-\s+|\s*[–—]\s*", text) if numeric else text.split(","))
    return [part.strip() for part in parts]


def _row_parts(args: MultiDict[str, str], i: int) -> str | None:
    """The value of row ``i`` from its own inputs, when the page sent them: the two ends of a
    "between" (``from.<i>``, ``to.<i>``) or the picks of an "is one of" (``in.<i>``). The
    page's script folds them into the row's ``v`` before it sends the form (a URL that reads
    like the saved query's); without the script they come as they are."""
    low, high = args.get(f"from.{i}"), args.get(f"to.{i}")
    if low is not None or high is not None:
        low, high = (low or "").strip(), (high or "").strip()
        return f"{low} .. {high}" if low or high else ""
    picks = args.getlist(f"in.{i}")
    if picks:
        return "; ".join(p.strip() for p in picks if p.strip())
    return None


def value_text(value: Any, op: str = "") -> str:
    """A condition's JSON value as typed in the form (the inverse of :func:`row_value`):
    ``a .. b`` for "between", ``a; b`` for "is one of" (a semicolon: a comma may be a
    thousands separator; two values of "is one of" are not a range)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        between = op == "between" or (not op and len(value) == 2)
        return (" .. " if between else "; ").join(value_text(item) for item in value)
    return str(value)


def read_state(source: Any, args: MultiDict[str, str]) -> State:
    fields = c.fields_of(source)
    fs, os_, vs = args.getlist("f"), args.getlist("o"), args.getlist("v")
    rows = [Row(fs[i] if i < len(fs) else "", os_[i] if i < len(os_) else "",
                vs[i] if i < len(vs) else "") for i in range(max(len(fs), len(os_), len(vs)))]
    for i, row in enumerate(rows):
        composed = None if row.value.strip() else _row_parts(args, i)
        if composed is not None:
            row.value = composed
    state = State(rows=rows)
    state.join = "or" if args.get("join") == "or" else "and"
    state.q = args.get("q", "").strip()
    state.sort = args.get("sort", "") if args.get("sort", "") in fields else ""
    state.direction = "desc" if args.get("dir") == "desc" else "asc"
    state.page = max(1, args.get("page", 1, type=int) or 1)
    state.where_text = args.get("where", "").strip()
    if state.where_text:
        try:
            state.where = json.loads(state.where_text)
        except ValueError:
            state.error("where", _("The advanced condition is not valid JSON."))
    for n in ("1", "2"):
        name = args.get("g" + n, "")
        if name:
            state.groups.append((name, args.get("b" + n, "") or "month"))
    state.measures = [m for m in args.getlist("m") if m]
    state.chart = args.get("chart") if args.get("chart") in charts.KINDS else "bar"
    return state


def tree_of(source: Any, state: State) -> Any:
    """The condition tree of the rows (and the advanced condition), remembering where each row
    sits in it."""
    fields = c.fields_of(source)
    nodes = []
    for i, row in enumerate(state.rows):
        if not row.field:
            continue
        qfield = fields.get(row.field)
        try:
            value = row_value(qfield, row.op, row.value) if qfield is not None else row.value
        except BadInput as exc:
            row.errors.append(str(exc))
            continue
        if value is not None and not isinstance(value, list | bool):
            row.picked = str(value)
        if isinstance(value, list) and row.op == "in":
            row.picks = [str(item) for item in value]
        nodes.append(_whole_days(qfield, {"field": row.field, "op": row.op, "value": value}))
        state.row_index.append(i)
    group = {state.join: nodes} if nodes else None
    if group is not None and state.where:
        state.row_prefix = f"where.and[1].{state.join}"
        return {"and": [state.where, group]}
    if group is not None:
        state.row_prefix = f"where.{state.join}"
        return group
    return state.where or None


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_END_OF_DAY = "T23:59:59.999999"


def _whole_days(qfield: Any, node: dict[str, Any]) -> dict[str, Any]:
    """A date picked for a date-time field means the whole day in the business time zone:
    "is 2 Dec" is that day from midnight to midnight, "at most 2 Dec" includes the day,
    "after 2 Dec" starts the day after (not 00:00 of it)."""
    value, op = node["value"], node["op"]
    if qfield is None or qfield.type != operators.DATETIME:
        return node
    if isinstance(value, str) and _DAY.fullmatch(value):
        if op == "eq":
            return {**node, "op": "between", "value": [value, value + _END_OF_DAY]}
        if op in ("le", "gt"):
            return {**node, "value": value + _END_OF_DAY}
    if op == "between" and isinstance(value, list) and len(value) == 2 and isinstance(
            value[1], str) and _DAY.fullmatch(value[1]):
        return {**node, "value": [value[0], value[1] + _END_OF_DAY]}
    return node


def group_by_of(source: Any, state: State) -> list[Any]:
    fields = c.fields_of(source)
    result: list[Any] = []
    for name, by in state.groups:
        qfield = fields.get(name)
        result.append({"field": name, "by": by} if qfield is not None
                      and qfield.type in DATE_TYPES else name)
    return result


def measures_of(state: State) -> list[dict[str, Any]]:
    result = []
    for item in state.measures:
        fn, _sep, name = item.partition(":")
        result.append({"fn": fn, "field": name} if name else {"fn": fn})
    return result


def place_errors(state: State, exc: ServiceError) -> None:
    """Put each error of the service next to the row or the input it is about."""
    pattern = re.compile(re.escape(state.row_prefix) + r"\[(\d+)\]") if state.row_prefix else None
    for key, message in (exc.errors or {"": exc.message}).items():
        match = pattern.match(key) if pattern else None
        if match and int(match.group(1)) < len(state.row_index):
            state.rows[state.row_index[int(match.group(1))]].errors.append(str(message))
        elif key.startswith(("group_by", "measures")):
            state.error("analysis", message)
        elif key.startswith("sort"):
            state.error("sort", message)
        elif key == "q":
            state.error("q", message)
        else:
            state.error("", message)


def body_of(source: Any, state: State) -> dict[str, Any]:
    return {"where": tree_of(source, state), "q": state.q or None,
            "sort": [("-" if state.direction == "desc" else "") + state.sort]
            if state.sort else []}


def definition_of(source: Any, state: State) -> dict[str, Any]:
    """The saved definition of the page's state."""
    body = body_of(source, state)
    definition = {key: value for key, value in body.items() if value}
    if state.groups:
        definition["group_by"] = group_by_of(source, state)
        definition["measures"] = measures_of(state)
        definition["chart"] = state.chart
    return definition


def args_of(definition: dict[str, Any]) -> dict[str, Any]:
    """Builder URL arguments for a saved definition: a flat group of conditions becomes rows,
    anything deeper stays a ``where`` tree."""
    args: dict[str, Any] = {}
    where = definition.get("where")
    if isinstance(where, dict) and len(where) == 1 and set(where) <= {"and", "or"}:
        join = next(iter(where))
        children = where[join]
        if isinstance(children, list) and all(
                isinstance(n, dict) and "field" in n and set(n) <= {"field", "op", "value"}
                for n in children):
            args.update(join=join, f=[n["field"] for n in children],
                        o=[n.get("op", "") for n in children],
                        v=[value_text(n.get("value"), n.get("op", "")) for n in children])
            where = None
    if where:
        args["where"] = json.dumps(where, ensure_ascii=False)
    if definition.get("q"):
        args["q"] = definition["q"]
    sort = definition.get("sort") or []
    if isinstance(sort, str):
        sort = [sort]
    if sort:
        args["sort"] = sort[0].lstrip("-")
        args["dir"] = "desc" if sort[0].startswith("-") else "asc"
    for n, item in enumerate(definition.get("group_by") or [], start=1):
        if isinstance(item, dict):
            args[f"g{n}"], args[f"b{n}"] = item.get("field"), item.get("by") or "month"
        else:
            args[f"g{n}"] = item
    args["m"] = [f"{m['fn']}:{m['field']}" if m.get("field") else m["fn"]
                 for m in definition.get("measures") or []]
    if definition.get("chart"):
        args["chart"] = definition["chart"]
    return {k: v for k, v in args.items() if v not in (None, "", [])}


# -- labels and analysis display ---------------------------------------------------------------


def condition_lines(source: Any, state: State) -> list[str]:
    """The page's conditions as sentences for an export's header ("Segment is At risk"),
    labels instead of codes."""
    fields = c.fields_of(source)
    labeller = labels.Labeller(_sess(), source)
    lines = [f"{_('Search')}: {state.q}"] if state.q else []
    for row in state.rows:
        qfield = fields.get(row.field)
        if qfield is None:
            continue
        value = row.value
        if row.picked and labeller.labelled(qfield):
            value = labeller.label(qfield, _typed(qfield, row.picked)) or value
        lines.append(" ".join(filter(None, (str(qfield.label),
                                            str(OP_LABELS.get(row.op, row.op)), value))))
    return lines


def _typed(qfield: Any, code: str) -> Any:
    """A picked code back to its value's type (branch ids are numbers)."""
    if qfield.relation and code.isdigit():
        return int(code)
    return code


def _measure_field(source: Any, key: str) -> tuple[str, Any]:
    fn, _sep, name = key.partition("_")
    return fn, c.fields_of(source).get(name)


def _measure_text(labeller: Any, value: Any, kind: tuple[str, str | None]) -> str:
    """A measure as people read it: money with its currency, a count grouped, the lowest or
    highest date in the page's date format."""
    if value is None or value == "":
        return ""
    if kind[0] == "money":
        return labeller.money(value, kind[1])
    if kind[0] in DATE_TYPES:
        return labeller.date(value)
    if kind[0] == "number":
        with contextlib.suppress(InvalidOperation, ValueError):
            return format_decimal(Decimal(str(value)), locale=labeller.locale)
    return str(value)


def analysis_view(source: Any, result: dict[str, Any], title: str) -> dict[str, Any]:
    """An aggregate result with translated column labels and values as people read them
    (choice labels, branch names, periods, money with its currency), its chart data, ready
    for the template, the chart and the exports (which keep the raw numbers typed)."""
    labeller = labels.Labeller(_sess(), source)
    fields = c.fields_of(source)
    currencies = result.get("currencies") or {}
    columns: list[tuple[str, str]] = []  # key, label
    kinds: list[tuple[str, str | None]] = []  # export type, currency
    for key in result["group_by"]:
        qfield = fields.get(key)
        if qfield is None:
            name, _sep, by = key.rpartition("_")
            qfield = fields.get(name)
            label = f"{qfield.label} ({BUCKET_LABELS.get(by, by)})" if qfield else key
        else:
            label = str(qfield.label)
        columns.append((key, label))
        kinds.append(("text", None))
    for key in result["measures"]:
        fn, qfield = _measure_field(source, key)
        label = str(_("Count")) if key == "count" else (
            str(MEASURE_LABELS[fn] % {"field": qfield.label}) if qfield and fn in MEASURE_LABELS
            else key)
        columns.append((key, label))
        if key in currencies:
            kinds.append(("money", currencies[key]))
        elif qfield is not None and fn in ("min", "max") and qfield.type in (
                *DATE_TYPES, operators.TEXT):
            kinds.append((qfield.type, None))  # the earliest date, the first name
        else:
            kinds.append(("number", None))
    ngroups = len(result["group_by"])
    keys = labels.group_keys(source, result["group_by"])
    group_text: list[list[str]] = []
    values: list[list[Any]] = []
    rows: list[list[str]] = []
    for row in result["rows"]:
        shown_labels = row.get("labels") or labeller.row_labels(row, keys)
        groups = [shown_labels.get(key, "" if row.get(key) is None else str(row.get(key)))
                  for key, _l2 in columns[:ngroups]]
        measures = [row.get(key) for key, _l2 in columns[ngroups:]]
        group_text.append(groups)
        values.append(groups + measures)
        rows.append(groups + [_measure_text(labeller, value, kind)
                              for value, kind in zip(measures, kinds[ngroups:], strict=True)])
    names = [label for _k, label in columns]
    shown = {"group_by": names[:ngroups], "measures": names[ngroups:],
             "rows": [dict(zip(names, value_row, strict=True)) for value_row in values],
             "formats": {names[ngroups + i]: kind for i, kind in enumerate(kinds[ngroups:])}}
    return {"labels": names, "rows": rows, "values": values, "kinds": kinds,
            "ngroups": ngroups, "shown": shown, "title": title, "locale": labeller.locale}


def chart_svg(view: dict[str, Any], kind: str) -> bytes:
    return charts.render(view["shown"], kind, view["title"], locale=view.get("locale"))


def inline_svg(svg: bytes) -> Markup:
    """The chart for embedding in the page: no XML declaration and no script."""
    text = svg.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<script\b.*?</script>", "", text, flags=re.S)
    return Markup(text)  # noqa: S704 - pygal escapes every label and value it writes


def _csv_cell(value: Any, kind: tuple[str, str | None]) -> Any:
    """A measure for a spreadsheet: a plain number (money to its currency's minor units,
    the currency named in the heading) so Excel can add it up."""
    if value is None or value == "":
        return ""
    with contextlib.suppress(InvalidOperation, ValueError):
        number = Decimal(str(value))
        if kind[0] == "money" and kind[1]:
            places = get_currency_precision(kind[1])
            return str(number.quantize(Decimal(1).scaleb(-places)))
        return str(number.normalize()) if number == number.to_integral() else str(number)
    return value


def csv_response(view: dict[str, Any], filename: str) -> Response:
    """The analysis as CSV for Excel: labels as people read them, measures as numbers with
    the currency in the money columns' headings."""
    out = io.StringIO()
    writer = csv.writer(out)
    ngroups = view["ngroups"]
    kinds = view["kinds"]
    writer.writerow([inert(f"{label} ({kind[1]})" if kind[0] == "money" and kind[1] else label)
                     for label, kind in zip(view["labels"], kinds, strict=True)])
    for row, shown in zip(view["values"], view["rows"], strict=True):
        writer.writerow([_csv_cell(cell, kinds[i]) if i >= ngroups and kinds[i][0] in (
            "money", "number") else inert(shown[i]) for i, cell in enumerate(row)])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename={filename}"})


def svg_response(svg: bytes, filename: str) -> Response:
    return Response(svg, mimetype="image/svg+xml", headers={
        "Content-Disposition": f"inline; filename={filename}"})


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "query"


# -- pages -------------------------------------------------------------------------------------


@bp.route("/")
@login_required
def index() -> Any:
    """What the user may query, their saved queries (own and shared) and the reports."""
    user = _user()
    sources = service.sources(user)
    labels = {s.name: s.label for s in sources}
    saved = service.saved_list(_sess(), user)
    return render_template("query/index.html", sources=sources, saved=saved, labels=labels,
                           reports=reports.available(user))


def _analyse(source: Any, state: State, body: dict[str, Any]) -> dict[str, Any] | None:
    if not state.groups:
        return None
    result = service.aggregate(_sess(), _user(), source.name, {
        **body, "group_by": group_by_of(source, state), "measures": measures_of(state)})
    return analysis_view(source, result, str(source.label))


def _share_choices() -> list[tuple[str, str]]:
    from carebiz.models import Branch
    from carebiz.services.roles import role_label

    user = _user()
    choices = [(PRIVATE, str(_("Only me")))]
    for role in sorted(user.roles, key=lambda r: r.name):
        choices.append((f"{ROLE}:{role.id}", str(_("Everyone with the role %(role)s",
                                                     role=role_label(role)))))
    stmt = select(Branch).order_by(Branch.name)
    if not (user.all_branches or user.is_superuser):
        stmt = stmt.where(Branch.id.in_(sorted(user.branch_ids)))
    for branch in _sess().scalars(stmt):
        choices.append((f"{BRANCH}:{branch.id}", str(_("Everyone in the branch %(branch)s",
                                                       branch=branch.name))))
    return choices


def _page_url(page: int) -> str:
    args = MultiDict(request.args)
    args.setlist("page", [str(page)] if page > 1 else [])
    return url_for("query.builder", source=request.view_args["source"], **args.to_dict(flat=False))


@bp.route("/<string(maxlength=60):source>")
@login_required
def builder(source: str) -> Any:
    """The query builder: condition rows, the simple search, sort, results and analysis."""
    src = service.get_source(_user(), source)
    state = read_state(src, request.args)
    body = body_of(src, state)
    result = None
    analysis = None
    status = 200
    if not state.errors and not any(row.errors for row in state.rows):
        try:
            result = service.run(_sess(), _user(), src.name,
                                 {**body, "page": state.page, "per_page": PER_PAGE})
            analysis = _analyse(src, state, body)
        except ValidationFailed as exc:
            place_errors(state, exc)
    if state.errors or any(row.errors for row in state.rows):
        status = 422
    # blank rows sent back are not kept (they would pile up at each run): the filled ones,
    # then blanks up to MIN_ROWS and at least one
    rows = [row for row in state.rows if row.field or row.value or row.errors]
    while len(rows) < MIN_ROWS or not rows or rows[-1].field:
        rows.append(Row())
    query_string = request.query_string.decode("utf-8", "replace")
    svg = inline_svg(chart_svg(analysis, state.chart)) if analysis else None
    labeller = labels.Labeller(_sess(), src)
    return render_template(
        "query/builder.html", source=src, state=state, rows=rows, result=result,
        analysis=analysis, svg=svg, query_string=query_string, page_url=_page_url,
        sort_url=_sort_url, op_labels=OP_LABELS, bucket_labels=BUCKET_LABELS,
        chart_labels=CHART_LABELS, measure_choices=_measure_choices(src),
        share_choices=_share_choices(), field_info=field_info(src),
        date_types=DATE_TYPES, display=labeller.display, per_page=PER_PAGE,
        value_widget=value_widget, range_inputs=range_inputs), status


def field_info(source: Any) -> dict[str, dict[str, Any]]:
    """What the condition rows need per field: its operators, the values to pick from
    (``[code, label]``: choices, or the branches the user may see) and its input kind."""
    info: dict[str, dict[str, Any]] = {}
    for qfield in source.fields:
        if qfield.relation == labels.BRANCH_RELATION:
            picks = [[str(i), f"{name} ({code})"]
                     for i, name, code in labels.branch_choices(_sess(), _user())]
        else:
            picks = [[k, str(v)] for k, v in qfield.choices]
        kind = ("date" if qfield.type in DATE_TYPES else
                "number" if qfield.type in NUMERIC else "text")
        info[qfield.name] = {"ops": list(operators.operators_for(qfield)), "choices": picks,
                             "input": kind}
    return info


#: operators whose value is one pick of a choice (a select box)
PICK_OPS = ("eq", "ne")
#: operators whose value is one date (a date picker)
DATE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")


def value_widget(info: dict[str, Any] | None, op: str) -> str:
    """How a row's value is asked: ``none`` (relative dates, empty), ``select``, ``date``,
    ``range`` (two inputs of "between": date pickers for dates), ``multi`` ("is one of" a
    field with known values: a multi-select of labels), ``tags`` ("is one of" free values:
    a box the script turns into tags) or ``text``; the page's script switches it when the
    field or operator changes."""
    if info is None:
        return "text"
    if op in operators.NO_VALUE:
        return "none"
    op = op or (info["ops"][0] if info["ops"] else "")
    if op == "between":
        return "range"
    if op == "in":
        return "multi" if info["choices"] else "tags"
    if info["choices"] and op in PICK_OPS:
        return "select"
    if info["input"] == "date" and op in DATE_OPS:
        return "date"
    return "text"


def range_inputs(info: dict[str, Any] | None, row: Row) -> dict[str, Any]:
    """The two inputs of a "between" row: their type (``date`` when both ends are days or
    empty: date-times typed in full keep a text box) and the text of each end."""
    parts = (range_parts(None if info is None else _InfoField(info), row.value)
             if row.value.strip() else [])
    low, high = (parts + ["", ""])[:2] if len(parts) <= 2 else (row.value, "")
    kind = "text"
    if info is not None and info["input"] == "date" and all(
            p == "" or _DAY.fullmatch(p) for p in (low, high)):
        kind = "date"
    return {"type": kind, "low": low, "high": high,
            "inputmode": "decimal" if info is not None and info["input"] == "number" else ""}


class _InfoField:
    """Just enough of a field for :func:`range_parts`, from the page's field info."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.type = operators.NUMBER if info["input"] == "number" else operators.TEXT


def _sort_url(name: str) -> str:
    """The page sorted by ``name``: ascending first, descending when already ascending."""
    args = MultiDict(request.args)
    current = args.get("sort") == name and args.get("dir") != "desc"
    args.setlist("sort", [name])
    args.setlist("dir", ["desc" if current else "asc"])
    args.setlist("page", [])
    return url_for("query.builder", source=request.view_args["source"],
                   **args.to_dict(flat=False))


def _measure_choices(source: Any) -> list[tuple[str, str]]:
    choices = [("count", str(_("Count")))]
    for qfield in source.fields:
        if qfield.type in NUMERIC and qfield.name != "id" and not qfield.name.endswith("_id"):
            for fn in ("sum", "avg", "min", "max"):
                choices.append((f"{fn}:{qfield.name}",
                                str(MEASURE_LABELS[fn] % {"field": qfield.label})))
    return choices


def _analysis_or_422(source: str) -> tuple[Any, State, dict[str, Any] | None]:
    src = service.get_source(_user(), source)
    state = read_state(src, request.args)
    if not state.groups:
        raise ValidationFailed(_("Choose what to group by first."), {"group_by": _("required")})
    if state.errors:
        raise ValidationFailed(_("The advanced condition is not valid JSON."))
    return src, state, _analyse(src, state, body_of(src, state))


@bp.route("/<string(maxlength=60):source>/chart.svg")
@login_required
def chart(source: str) -> Any:
    """The analysis chart of the page's state, as an SVG file (for reports and printing)."""
    src, state, view = _analysis_or_422(source)
    return svg_response(chart_svg(view, state.chart), f"{_safe_name(src.name)}.svg")


@bp.route("/<string(maxlength=60):source>/analysis.csv")
@login_required
def analysis_csv(source: str) -> Any:
    """The analysis table of the page's state as CSV for Excel (UTF-8 with BOM): a file that
    leaves the system, so it needs ``data.export`` like every list export."""
    check_permission(EXPORT_PERMISSION)
    src, _state, view = _analysis_or_422(source)
    return csv_response(view, f"{_safe_name(src.name)}-analysis.csv")


@bp.route("/<string(maxlength=60):source>/save", methods=["POST"])
@login_required
def save(source: str) -> Any:
    """Save the page's state under a name, private or shared with a role or branch."""
    src = service.get_source(_user(), source)
    query_string = request.form.get("state", "")
    state = read_state(src, MultiDict(parse_qsl(query_string, keep_blank_values=True)))
    back = url_for("query.builder", source=src.name) + ("?" + query_string if query_string
                                                        else "")
    name = request.form.get("name", "").strip()
    if not name or len(name) > 120:
        flash(_("Give the query a name (at most 120 characters)."), "danger")
        return redirect(back)
    share = request.form.get("share", PRIVATE)
    visibility, _sep, target = share.partition(":")
    data: dict[str, Any] = {"source": src.name, "name": name, "visibility": visibility,
                            "definition": definition_of(src, state)}
    if target.isdigit():
        data["role_id" if visibility == ROLE else "branch_id"] = int(target)
    sess = _sess()
    try:
        saved = service.saved_create(sess, _user(), data)
        sess.commit()
    except ServiceError as exc:
        sess.rollback()
        flash(" ".join([exc.message, *map(str, exc.errors.values())]), "danger")
        return redirect(back)
    flash(_("Saved the query %(name)s.", name=saved.name), "success")
    return redirect(back)


@bp.route("/saved/<int(min=1, max=2147483647):saved_id>")
@login_required
def saved_open(saved_id: int) -> Any:
    """Open a saved query in the builder (its state goes into the URL)."""
    saved = service.saved_get(_sess(), _user(), saved_id)
    return redirect(url_for("query.builder", source=saved.source,
                            **args_of(saved.definition or {})))


@bp.route("/saved/<int(min=1, max=2147483647):saved_id>/delete", methods=["POST"])
@login_required
def saved_delete(saved_id: int) -> Any:
    """Delete a saved query (its owner only)."""
    sess = _sess()
    saved = service.saved_get(sess, _user(), saved_id)
    name = saved.name
    service.saved_delete(sess, _user(), saved_id)
    sess.commit()
    flash(_("Deleted the saved query %(name)s.", name=name), "success")
    return redirect(url_for("query.index"))


# -- reports -----------------------------------------------------------------------------------


def _report_view(name: str) -> tuple[Any, dict[str, str], dict[str, str], dict[str, Any] | None]:
    report = reports.get(_user(), name)
    values, typed, errors = reports.read_params(report, request.args)
    view = None
    if not errors:
        try:
            result = reports.run(_sess(), _user(), report, values)
            source = service.get_source(_user(), report.source)
            view = analysis_view(source, result, str(report.label))
        except ValidationFailed as exc:
            errors[""] = "; ".join(sorted({str(m) for value in exc.errors.values()
                                           for m in value})) or exc.message
    return report, typed, errors, view


@bp.route("/reports/<string(maxlength=120):name>")
@login_required
def report(name: str) -> Any:
    """A registered report: its parameters, then its table and chart."""
    report, typed, errors, view = _report_view(name)
    svg = inline_svg(chart_svg(view, report.chart)) if view else None
    return render_template("query/report.html", report=report, typed=typed, errors=errors,
                           analysis=view, svg=svg,
                           query_string=request.query_string.decode("utf-8", "replace")), (
        422 if errors else 200)


@bp.route("/reports/<string(maxlength=120):name>/chart.svg")
@login_required
def report_chart(name: str) -> Any:
    report, _typed, errors, view = _report_view(name)
    if view is None:
        raise ValidationFailed(_("The report's parameters are not valid."), errors)
    return svg_response(chart_svg(view, report.chart), f"{_safe_name(report.name)}.svg")


@bp.route("/reports/<string(maxlength=120):name>/table.csv")
@login_required
def report_csv(name: str) -> Any:
    report, _typed, errors, view = _report_view(name)
    if view is None:
        raise ValidationFailed(_("The report's parameters are not valid."), errors)
    return csv_response(view, f"{_safe_name(report.name)}.csv")
