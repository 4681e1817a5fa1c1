"""Reports that plugins register through the ``reports`` hook: finding the ones a user may
run, reading their parameters and running them through the query service (so row filters and
the source's permission always apply)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from carebiz.errors import Forbidden, NotFound, ValidationFailed
from carebiz.query import operators as ops
from carebiz.query import service
from carebiz.query.parsing import BadInput, parse_number
from carebiz.security.permissions import can
from carebiz.text import bad_text_in


def _allowed(user: Any, report: Any, source_names: set[str]) -> bool:
    return report.source in source_names and (
        report.permission is None or can(user, report.permission))


def available(user: Any, host: Any = None) -> list[Any]:
    """The reports ``user`` may run: over a source they may query, with the report's right."""
    names = {s.name for s in service.sources(user, host)}
    return [r for r in service._host(host).collect("reports") if _allowed(user, r, names)]


def get(user: Any, name: str, host: Any = None) -> Any:
    """The report ``name``: 404 when nobody registered it, 403 when ``user`` may not run it."""
    for report in service._host(host).collect("reports"):
        if report.name == name:
            names = {s.name for s in service.sources(user, host)}
            if not _allowed(user, report, names):
                raise Forbidden(_("You may not run this report."))
            return report
    raise NotFound(_("No report named %(name)s.", name=name))


def default_of(param: Any) -> Any:
    value = param.default
    return value() if callable(value) else value


def _convert(param: Any, text: str) -> Any:
    """A parameter typed in a form, converted to the JSON value the compiler expects. A
    parameter with choices takes a code or a label in either language."""
    if param.choices:
        from carebiz.query.labels import choice_code

        found = choice_code([(str(v), label) for v, label in param.choices], text)
        if found is None:
            raise ValueError(_("“%(text)s” is not one of: %(choices)s", text=text,
                               choices=", ".join(str(lb) for _v, lb in param.choices)))
        text = found
    if param.type in (ops.NUMBER, ops.MONEY):
        try:
            number = parse_number(text)  # 100,000 as people type it
        except BadInput as exc:
            raise ValueError(str(exc)) from None
        return number if isinstance(number, int) or param.type == ops.MONEY else float(number)
    if param.type == ops.BOOL:
        return text.lower() in ("1", "true", "yes", "on")
    if param.type == ops.DATE:
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(_("expected a date as YYYY-MM-DD")) from None
    return text


def read_params(report: Any, args: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str],
                                                                dict[str, str]]:
    """``(values, typed, errors)``: the converted values (defaults for what is missing), the
    text shown back in the form and the messages by parameter name."""
    values: dict[str, Any] = {}
    typed: dict[str, str] = {}
    errors: dict[str, str] = {}
    for param in report.params:
        raw = args.get(param.name)
        if raw is None or str(raw).strip() == "":
            default = default_of(param)
            if isinstance(default, dt.date):
                default = default.isoformat()
            values[param.name] = default
            typed[param.name] = "" if default is None else str(default)
            continue
        typed[param.name] = str(raw)
        try:
            values[param.name] = _convert(param, str(raw).strip())
        except ValueError as exc:
            errors[param.name] = str(exc)
    return values, typed, errors


def describe(report: Any) -> dict[str, Any]:
    """A report as the reports API lists it: what it is, what it analyses and the parameters
    it takes (with their defaults as of now)."""
    params = []
    for param in report.params:
        default = default_of(param)
        params.append({
            "name": param.name, "label": str(param.label), "type": param.type,
            "default": default.isoformat() if isinstance(default, dt.date) else default,
            "choices": [{"value": value, "label": str(label)}
                        for value, label in param.choices]})
    return {"name": report.name, "label": str(report.label),
            "description": str(report.description or ""), "source": report.source,
            "chart": report.chart, "params": params}


def read_api_params(report: Any, args: Any) -> dict[str, Any]:
    """The parameter values of a query string (a multi-dict): defaults for what is missing;
    an argument that is not a parameter of the report, one given twice, or a value not of
    its type is a 422 naming each (all of them at once)."""
    names = {param.name for param in report.params}
    errors: dict[str, list[str]] = {}
    for key in args:
        if key not in names:
            errors[key] = [_("Unknown field.")]
        elif len(args.getlist(key)) > 1:
            errors[key] = [_("Give this parameter once.")]
    for key, problem in bad_text_in({k: args.get(k) for k in names if k in args}).items():
        errors[key] = [problem]
    values, _typed, problems = read_params(report, {k: args.get(k) for k in names
                                                    if k in args and k not in errors})
    for key, problem in problems.items():
        errors.setdefault(key, [problem])
    if errors:
        raise ValidationFailed(_("The report's parameters are not valid."), errors)
    return values


def substitute(node: Any, values: Mapping[str, Any]) -> Any:
    """``node`` with every ``{"param": name}`` replaced by the parameter's value."""
    if isinstance(node, dict):
        if set(node) == {"param"}:
            return values.get(node["param"])
        return {key: substitute(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(item, values) for item in node]
    return node


def params_in(node: Any) -> set[str]:
    """The names of the parameters a condition tree refers to (``{"param": name}``)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if set(item) == {"param"}:
                found.add(str(item["param"]))
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def run(session: Session, user: Any, report: Any, values: Mapping[str, Any],
        host: Any = None) -> dict[str, Any]:
    """The report's analysis for the parameter ``values`` (an aggregate result). A value the
    compiler refuses in the report's condition is a 422 naming the parameters the condition
    uses (not the JSON path of the report's definition), each with the list of problems."""
    body = {"where": substitute(report.where, values), "group_by": report.group_by,
            "measures": report.measures}
    try:
        return service.aggregate(session, user, report.source, body, host=host)
    except ValidationFailed as exc:
        problems = [str(m) for value in exc.errors.values()
                    for m in (value if isinstance(value, list) else [value])] or [exc.message]
        names = sorted(params_in(report.where))
        if not names or not all(str(path).startswith("where") for path in exc.errors):
            raise ValidationFailed(exc.message, {"": problems}) from None
        raise ValidationFailed(_("The report's parameters are not valid."),
                               {name: problems for name in names}) from None
