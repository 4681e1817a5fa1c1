"""The one Export control of every list: ``/export/<table>?format=xlsx&<the list's
filters>`` downloads the list as the user sees it, or, when it is large, starts a background
job whose page shows a progress bar and then the download link."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from flask import Blueprint, abort, current_app, g, redirect, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from carebiz import db
from carebiz.export import service
from carebiz.jobs import submit, visible_job
from carebiz.security.permissions import EXPORT_PERMISSION, can

bp = Blueprint("exports", __name__, url_prefix="/export")


def _host() -> Any:
    return current_app.extensions["carebiz"].host


@bp.app_template_global()
def export_formats() -> list[Any]:
    """Formats offered by the Export control (from the switched-on plugins)."""
    return list(service.formats(_host()).values())


@bp.record_once
def _answer_formats_on_lists(state: Any) -> None:
    """Any list endpoint a data set names answers ``?format=xlsx|csv|…`` with the file,
    the API's included (``GET /api/v1/customers?format=xlsx``)."""

    @state.app.before_request
    def list_as_file() -> Any:
        if request.method != "GET" or not request.endpoint:
            return None
        api = request.path.startswith("/api/")
        if not api and "format" not in request.args:
            return None  # a page asked for as a page: no need to look further
        name = export_endpoints(_host()).get(request.endpoint)
        if name is None:
            return None
        fmt = request.args.get("format") if "format" in request.args else accepted_format()
        if fmt is None:
            return None
        if not current_user.is_authenticated:
            abort(401 if api else 403)
        db.need_transaction()  # a file, not the (read-only) view's answer
        return _export(name, fmt)


def export_endpoints(host: Any) -> Mapping[str, str]:
    """Endpoint -> the export table that answers it with a file (once per switched-on set:
    every GET asks)."""
    def build() -> Mapping[str, str]:
        names: dict[str, str] = {}
        for entry in host.collect("export_tables"):
            for endpoint in entry.endpoints:
                names.setdefault(endpoint, entry.name)
        return MappingProxyType(names)

    return host.registry("export_tables.by_endpoint", build)


#: never answered with a file through ``Accept``: the API's own answer, and what browsers ask
#: for when opening any address
NOT_NEGOTIATED = ("application/json", "text/html")


def accepted_format() -> str | None:
    """The export format the request's ``Accept`` header names as its best match (``Accept:
    text/csv``), if any; JSON, HTML and wildcards keep the normal answer."""
    offered = {f.mimetype: f.name for f in service.formats(_host()).values()
               if f.mimetype not in NOT_NEGOTIATED}
    if not offered or not request.accept_mimetypes:
        return None
    best = request.accept_mimetypes.best_match([*NOT_NEGOTIATED, *offered])
    named = {value.lower() for value, _quality in request.accept_mimetypes}
    return offered.get(best) if best in offered and best in named else None


@bp.app_template_global()
def may_export() -> bool:
    """Whether the Export control is shown: the user holds ``data.export`` (a template global,
    so the control's macro sees it without the page's context)."""
    return can(current_user, EXPORT_PERMISSION)


@bp.app_template_global()
def export_url(table: str, fmt: str, extra: dict[str, Any] | None = None) -> str:
    """The export link of the list on screen: its arguments (repeated ones too) and ours.

    The Export control links every format with the same arguments: the link is built once
    per request and table and only the format put in for each (a plain name; anything else
    is built in full)."""
    if not fmt.isalnum():
        return _export_link(table, fmt, extra)
    memo = g.setdefault("_carebiz_export_urls", {})
    key = (table, repr(sorted(extra.items())) if extra else "")
    head_tail = memo.get(key)
    if head_tail is None:
        link = _export_link(table, _FORMAT_MARK, extra)
        marked = f"?format={_FORMAT_MARK}"
        head_tail = memo[key] = (tuple(link.split(marked)) if link.count(marked) == 1
                                 else ())
    if not head_tail:
        return _export_link(table, fmt, extra)
    head, tail = head_tail
    return f"{head}?format={fmt}{tail}"


#: a format name no format has, built into an export link and then replaced
_FORMAT_MARK = "carebizformatmark"


def _export_link(table: str, fmt: str, extra: dict[str, Any] | None) -> str:
    args = {k: v for k, v in request.args.to_dict(flat=False).items()
            if k not in ("format", "page")}
    args.update(extra or {})
    return url_for("exports.export", name=table, format=fmt, **args)


@bp.route("/<name>")
@login_required
def export(name: str) -> Any:
    return _export(name, request.args.get("format"))


def _export(name: str, format_name: str | None) -> Any:
    host = _host()
    fmt = service.get_format(host, format_name)
    # repeated arguments (a query's conditions f/o/v) are kept
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True)
                      if k not in ("format", "page")])
    sess = db.session()
    table = service.get_table(host, name, current_user)(sess, current_user, args)
    if service.runs_as_job(table, fmt):
        job = submit(sess, "core.export", {"table": name, "format": fmt.name,
                                           "args": args.to_dict(flat=False),
                                           "locale": service.current_locale()},
                     user_id=current_user.id)
        return redirect(url_for("jobs.show", job_id=job.id))
    return service.respond(table, fmt)


@bp.route("/download/<job_id>")
@login_required
def download(job_id: str) -> Any:
    """The file a finished job wrote into the instance folder (an export, printed documents
    …): any task whose result names ``file``, ``filename`` and ``mimetype``; only for those
    who may see the job (``carebiz.jobs.access``), and the file's name comes from the job's
    result only."""
    job = visible_job(db.session(), job_id, current_user)
    if job is None or not service.has_file(job):
        abort(404)
    path = service.export_file(current_app._get_current_object(), job)
    if path is None:
        abort(404)
    return send_file(path, mimetype=job.result.get("mimetype"), as_attachment=True,
                     download_name=job.result.get("filename") or path.name)
