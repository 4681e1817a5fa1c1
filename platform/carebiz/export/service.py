"""Exporting a data set in any registered format, at once or as a background job.

A file is written completely before anything is sent, so a failure never leaves a
half-written file offered for download. Exports larger than :data:`SYNC_ROWS` (or the
format's own ``sync_rows``, lower for PDF) run as a job whose file waits in the instance
folder for its owner."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app
from flask_babel import gettext as _
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from carebiz.errors import Forbidden, NotFound, ValidationFailed

#: above this many rows an export runs as a background job
SYNC_ROWS = 20_000
#: kept in memory up to this size, then spilled to disk, while writing
SPOOL_BYTES = 8 * 1024 * 1024

Builder = Callable[[Session, Any, Mapping[str, Any]], Any]


def formats(host: Any) -> dict[str, Any]:
    return {f.name: f for f in host.collect("export_formats")}


def get_format(host: Any, name: str | None) -> Any:
    available = formats(host)
    fmt = available.get((name or "csv").lower())
    if fmt is None:
        allowed = ", ".join(sorted(available))
        raise ValidationFailed(_("Unknown export format '%(name)s': use %(allowed)s.",
                                 name=name, allowed=allowed),
                               {"format": _("One of: %(allowed)s.", allowed=allowed)})
    return fmt


def get_table(host: Any, name: str, user: Any) -> Builder:
    """The builder of a registered data set the user may export. Every export path comes
    here (``/export/<name>``, ``?format=`` on a list or API endpoint, ``Accept: text/csv``, the
    background job): exporting needs :data:`EXPORT_PERMISSION` besides the data set's own
    permission, since seeing a list on screen is not taking the whole list away."""
    from carebiz.security.permissions import EXPORT_PERMISSION, can

    entry = {t.name: t for t in host.collect("export_tables")}.get(name)
    if entry is None:
        raise NotFound(_("Nothing named '%(name)s' can be exported.", name=name))
    if not can(user, EXPORT_PERMISSION):
        raise Forbidden(_("Your role may read lists but not export them; ask an "
                          "administrator for the permission to export."))
    if entry.permission and not can(user, entry.permission):
        raise Forbidden(_("You may not export this."))
    return entry.build


def runs_as_job(table: Any, fmt: Any) -> bool:
    """The export is too long for a request: more rows than the format writes in about two
    seconds (an unknown total is written at once)."""
    limit = fmt.sync_rows if getattr(fmt, "sync_rows", None) is not None else SYNC_ROWS
    return (table.total or 0) > limit


def filename(title: str, fmt: Any) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", title).strip("-").lower() or "export"
    return f"{slug}-{dt.date.today().isoformat()}.{fmt.extension}"


def write(table: Any, fmt: Any) -> tuple[Any, int]:
    """The whole file in a spooled temporary file (rewound) and the number of rows."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - caller closes
    try:
        rows = fmt.writer(table, spool)
    except Exception:
        spool.close()
        raise
    spool.seek(0)
    return spool, rows or 0


def respond(table: Any, fmt: Any) -> Response:
    """The finished file as a download (streamed from the spool in chunks)."""
    spool, _rows = write(table, fmt)

    def chunks() -> Any:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    name = filename(str(table.title), fmt)
    return Response(chunks(), mimetype=fmt.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


def exports_folder(app: Flask) -> Path:
    folder = Path(app.instance_path) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run_export(ctx: Any, table: str, format: str, args: dict[str, Any],
               locale: str | None = None) -> dict[str, Any]:
    """The background task: build the data set as the submitting user sees it, write the
    file into the instance folder, and answer where to fetch it."""
    from flask_babel import force_locale

    from carebiz.models import User

    app = ctx.app
    user = ctx.session.get(User, ctx.user_id)
    if user is None:
        raise NotFound(_("The user who asked for this export no longer exists."))
    with app.test_request_context(), force_locale(locale or "en"):
        host = app.extensions["carebiz"].host
        fmt = get_format(host, format)
        data = get_table(host, table, user)(ctx.session, user, MultiDict(args))
        total = data.total or 0
        data.rows = _counting(data.rows, total, ctx)
        spool, rows = write(data, fmt)
        name = f"{uuid.uuid4().hex}.{fmt.extension}"
        with spool, (exports_folder(app) / name).open("wb") as out:
            while block := spool.read(1024 * 1024):
                out.write(block)
    return {"file": name, "filename": filename(str(data.title), fmt), "rows": rows,
            "mimetype": fmt.mimetype}


def _counting(rows: Any, total: int, ctx: Any) -> Any:
    """Progress while the writer reads the rows; then a message for the time a writer that
    lays pages out after reading (PDF) still needs, so the page does not look stuck."""
    step = max(1, total // 50)
    done = 0
    for done, row in enumerate(rows, start=1):
        if total and done % step == 0:
            ctx.progress(min(99, done * 100 // total))
        yield row
    ctx.progress(99, _("%(n)s rows read; writing the file…", n=done))


def has_file(job: Any) -> bool:
    """The job's result offers a file for download (``file``, ``filename``, ``mimetype``)."""
    result = job.result if isinstance(job.result, dict) else {}
    return all(isinstance(result.get(key), str) and result.get(key)
               for key in ("file", "filename", "mimetype"))


def export_file(app: Flask, job: Any) -> Path | None:
    """The finished export of ``job`` on disk, if any (names come from the job, never from
    the user)."""
    result = job.result if isinstance(job.result, dict) else {}
    name = result.get("file")
    if job.status != "finished" or not isinstance(name, str) or "/" in name \
            or "\\" in name or name.startswith("."):
        return None
    path = exports_folder(app) / name
    return path if path.is_file() else None


def current_locale() -> str:
    from flask_babel import get_locale

    locale = get_locale()
    return str(locale) if locale else current_app.config.get("CAREBIZ_DEFAULT_LOCALE", "en")
