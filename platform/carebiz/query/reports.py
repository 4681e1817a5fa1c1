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
from carebiz.security.permissions import can


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
    """A parameter typed in a form, converted to the JSON value the compiler expects."""
    if param.type == ops.NUMBER:
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                raise ValueError(_("expected a number")) from None
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


def substitute(node: Any, values: Mapping[str, Any]) -> Any:
    """``node`` with every ``{"param": name}`` replaced by the parameter's value."""
    if isinstance(node, dict):
        if set(node) == {"param"}:
            return values.get(node["param"])
        return {key: substitute(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(item, values) for item in node]
    return node


def run(session: Session, user: Any, report: Any, values: Mapping[str, Any],
        host: Any = None) -> dict[str, Any]:
    """The report's analysis for the parameter ``values`` (an aggregate result)."""
    body = {"where": substitute(report.where, values), "group_by": report.group_by,
            "measures": report.measures}
    try:
        return service.aggregate(session, user, report.source, body, host=host)
    except ValidationFailed as exc:
        # a parameter value the compiler refuses: name the parameter, not the JSON path
        raise ValidationFailed(exc.message, {"": "; ".join(str(m) for m in exc.errors.values())}
                               ) from None
