"""Documents' default plugin: document templates (table, pages, API, admin menu) and the
background task that prints documents. Document types are registered by the features that
own the records they print (``document_types``)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from carebiz import hookimpl
from carebiz.contributions import MenuItem, Task


@hookimpl
def init_app(app: Flask) -> None:
    from carebiz.documents import warmup

    warmup.install(app)  # the first PDF is not the one that pays for WeasyPrint's start


@hookimpl
def models() -> list[type]:
    from carebiz.documents.models import DocumentTemplate

    return [DocumentTemplate]


@hookimpl
def web_blueprints() -> list[Any]:
    from carebiz.documents import views

    return [views.bp]


@hookimpl
def api_blueprints() -> list[Any]:
    from carebiz.documents.api import blp

    return [blp]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    if not user.is_authenticated:
        return []
    return [MenuItem("documents.templates", _l("Document templates"), "documents.templates",
                     "admin.settings", "admin", weight=19)]


@hookimpl
def tasks() -> list[Task]:
    from carebiz.documents.service import run_render

    return [Task("documents.render", _l("Print documents"), run_render)]
