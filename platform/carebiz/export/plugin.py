"""The export service's default plugin: the background export task, the download pages and
the CSV format. The tables themselves are registered by the feature that owns each list."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import ExportFormat, Task


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.web import exports

    return [exports.bp]


@hookimpl
def tasks() -> list[Task]:
    from carebiz.export.service import run_export

    return [Task("core.export", _l("Export a list"), run_export)]


@hookimpl
def export_formats() -> list[ExportFormat]:
    from carebiz.export.csv_format import write_csv

    return [ExportFormat("csv", _l("CSV (Excel, UTF-8)"), "csv", "text/csv", write_csv,
                         weight=50)]
