"""The query builder's current result, exportable in every format (the Export control of
the builder page, and ``/export/query.results?source=…&<the builder's arguments>``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from carebiz.errors import ValidationFailed
from carebiz.export.table import MONEY, NUMBER, TEXT, Column, Table
from carebiz.query import service


def results_table(session: Any, user: Any, args: Any) -> Any:
    """The rows the builder shows (all pages), as the user may see them."""
    from carebiz.query import views  # the builder's URL format lives with the page

    source = service.get_source(user, str(args.get("source") or ""))
    state = views.read_state(source, args)
    body = views.body_of(source, state)  # converts the rows' values, noting bad ones
    problems = {k: " ".join(v) for k, v in state.errors.items()}
    problems.update({f"row{i + 1}": " ".join(r.errors) for i, r in enumerate(state.rows)
                     if r.errors})
    if problems:
        raise ValidationFailed(_("The query is not valid."), problems)
    table = service.export_table(session, user, source.name, body)
    table.rows = _labelled_rows(session, source, table.rows)
    table.filters = views.condition_lines(source, state)
    return table


def _labelled_rows(session: Any, source: Any, rows: Any) -> Any:
    """Result rows with choice codes and branch ids replaced by their labels (money, dates
    and numbers stay typed: the writers format those)."""
    from carebiz.query.labels import Labeller

    labeller = Labeller(session, source)
    labelled = [f for f in source.fields if labeller.labelled(f) and f.type != "bool"]
    for row in rows:
        values = dict(row)
        for qfield in labelled:
            label = labeller.label(qfield, values.get(qfield.name))
            if label is not None:
                values[qfield.name] = label
        yield values


def _number(value: Any) -> Any:
    """A measure as a number cell (the aggregate gives exact decimals as text)."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def _view_table(view: dict[str, Any], filters: list[str]) -> Table:
    """An analysis as shown (translated labels, branch names, periods): groups as text, then
    measures as typed cells (money with its currency, so every writer formats it)."""
    ngroups = view["ngroups"]
    kinds = view.get("kinds") or [(TEXT, None)] * ngroups + [(NUMBER, None)] * (
        len(view["labels"]) - ngroups)
    # numbers and money stay typed; the lowest/highest date or name is written as shown
    kinds = [(k if k in (NUMBER, MONEY) else TEXT, cur) for k, cur in kinds]
    columns = [Column(f"c{i}", label, TEXT if i < ngroups else kind,
                      currency=currency if kind == MONEY else None)
               for i, (label, (kind, currency)) in enumerate(zip(view["labels"], kinds,
                                                                    strict=True))]
    source_rows = view.get("values") or view["rows"]
    rows = [[_number(cell) if i >= ngroups and kinds[i][0] != TEXT else shown[i]
             for i, cell in enumerate(row)]
            for row, shown in zip(source_rows, view["rows"], strict=True)]
    return Table(view["title"], columns, iter(rows), filters=filters, total=len(rows))


def analysis_table(session: Any, user: Any, args: Any) -> Table:
    """The builder's analysis table (group rows and their measures), as the user may see it:
    ``/export/query.analysis?source=…&<the builder's arguments>``."""
    from carebiz.query import views

    source = service.get_source(user, str(args.get("source") or ""))
    state = views.read_state(source, args)
    if not state.groups:
        raise ValidationFailed(_("Choose what to group by first."), {"group_by": _("required")})
    if state.errors:
        raise ValidationFailed(_("The advanced condition is not valid JSON."))
    body = views.body_of(source, state)
    result = service.aggregate(session, user, source.name, {
        **body, "group_by": views.group_by_of(source, state),
        "measures": views.measures_of(state)})
    view = views.analysis_view(source, result, str(source.label))
    lines = views.condition_lines(source, state)
    if state.where_text:
        lines.append(state.where_text)
    return _view_table(view, lines)


def report_table(session: Any, user: Any, args: Any) -> Table:
    """A report's table for its parameters (written in the file's header):
    ``/export/query.report?report=…&<its parameters>``."""
    from carebiz.query import reports, views

    report = reports.get(user, str(args.get("report") or ""))
    values, typed, errors = reports.read_params(report, args)
    if errors:
        raise ValidationFailed(_("The report's parameters are not valid."), errors)
    result = reports.run(session, user, report, values)
    view = views.analysis_view(service.get_source(user, report.source), result,
                               str(report.label))
    lines = [f"{param.label}: {typed.get(param.name, '')}" for param in report.params]
    return _view_table(view, lines)
