"""The query service's default plugin: saved queries (table, pages, API), the Analysis menu
item and the exports of query results, analyses and reports. The sources it queries are
registered by the features that own them (``query_sources``)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import ExportTable, MenuItem


@hookimpl
def models() -> list[type]:
    from carebiz.query.models import SavedQuery

    return [SavedQuery]


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.query import views

    return [views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.query.api import blp
    from carebiz.query.reports_api import blp as reports_blp

    return [blp, reports_blp]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    return [MenuItem("query", _l("Analysis"), "query.index", None, weight=40)]


@hookimpl
def export_tables() -> list[ExportTable]:
    from carebiz.query.exports import analysis_table, report_table, results_table

    return [ExportTable("query.results", _l("Query results"), results_table),
            ExportTable("query.analysis", _l("Analysis"), analysis_table),
            ExportTable("query.report", _l("Report"), report_table)]
