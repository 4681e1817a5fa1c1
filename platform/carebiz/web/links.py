"""Links to records of any kind, from the ``record_pages`` hook: every reference to a
customer, vehicle or plugin document (audit log, recent trail, timeline) becomes a link, and
reads as the record page's label and the id ("Wash ticket 12"), never as an internal name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

from carebiz.security.permissions import can


def pages() -> dict[str, Any]:
    """Record pages of switched-on plugins by entity type (once per request)."""
    if "_carebiz_record_pages" not in g:
        host = current_app.extensions["carebiz"].host
        g._carebiz_record_pages = {p.entity_type: p for p in host.collect("record_pages")}
    return g._carebiz_record_pages


#: an id no record has, built into a URL once and then replaced by each row's id
_MARK = 918273645
#: where :func:`id_url` keeps its URL functions (per app: each app has its own routes)
ID_URLS = "carebiz.id_urls"
#: more distinct links than this (many plugins' document types): start over
ID_URLS_SIZE = 1024


def id_url(endpoint: str, arg: str, **values: Any) -> Callable[[Any], str]:
    """A function ``id -> URL`` of ``endpoint`` whose argument ``arg`` is an integer id (in
    the path or the query) and whose other ``values`` are fixed: the URL is built once per
    process, host and script root with ``url_for`` and each id put in its place. A page
    links each row, each document and each trail entry; building each URL through the
    routing map cost more than the rest of the row. As :func:`carebiz.web.layout.fixed_url`
    assumes, the app registers no URL defaults or value preprocessors that could make one
    request's URLs differ from another's. A ``BuildError`` is raised as ``url_for``
    raises it."""
    key = (endpoint, arg, tuple(sorted(values.items())), request.host, request.script_root) \
        if request else None
    memo = current_app.extensions.setdefault(ID_URLS, {}) if key is not None else {}
    found = memo.get(key)
    if found is None:
        head, _mark, tail = url_for(endpoint, **values, **{arg: _MARK}).rpartition(str(_MARK))

        def found(ident: Any) -> str:
            return f"{head}{int(ident)}{tail}"

        if len(memo) >= ID_URLS_SIZE:
            memo.clear()
        memo[key] = found
    return found


def record_url(entity_type: str | None, entity_id: Any) -> str | None:
    """The URL of a record's page, or None when there is no page, the id is not a number,
    or the current user may not open it."""
    page = pages().get(entity_type or "")
    ident = str(entity_id or "")
    if page is None or not ident.isdigit():
        return None
    if page.permission and not can(current_user, page.permission):
        return None
    try:
        return id_url(page.endpoint, page.id_arg)(ident)
    except BuildError:
        return None


def record_label(entity_type: str | None, entity_id: Any) -> str:
    """How a reference to a record reads: its page's label, translated into the reader's
    language (the English label where the catalog has none), then the id. A kind without a
    record page, or a page without a label, reads as its entity type."""
    page = pages().get(entity_type or "")
    label = str(page.label) if page is not None and page.label else (entity_type or "")
    ident = "" if entity_id is None else str(entity_id)
    return f"{label} {ident}".strip()


def init_app(app: Flask) -> None:
    app.jinja_env.globals["record_url"] = record_url
    app.jinja_env.globals["id_url"] = id_url
    app.jinja_env.globals["record_label"] = record_label
