"""The ``crm.import`` background task over a stored upload, and the files it owns."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from carebiz.crm.importing import loop
from carebiz.crm.importing.decoding import read_path
from carebiz.crm.importing.report import Options, failure_message
from carebiz.crm.importing.storage import upload_path
from carebiz.errors import NotFound, ServiceError, ValidationFailed


def import_files(app: Any, job: Any) -> list[Path]:
    """The stored upload a ``crm.import`` job names (removed when the job dies or goes)."""
    try:
        return [upload_path(app.instance_path, (job.params or {}).get("upload", ""))]
    except ServiceError:
        return []


def run_import_task(ctx: Any, upload: str, dry_run: bool = False, only_valid: bool = False,
                    on_existing: str = "attach", rows: str = "customers", filename: str = "",
                    locale: str | None = None) -> dict[str, Any]:
    """The ``crm.import`` background task: import (or dry-run) a stored upload as the user
    who submitted the job, reporting progress every ~2 % of the rows.

    The report is written in the submitter's language (``locale``), since jobs run outside
    any request. Rows are written in committed batches (``loop.BATCH_ROWS``), so people
    keep working during a large import. An all-or-nothing import with bad rows fails the job
    with the bad rows in its message and writes nothing; one that stops part way fails it
    saying which rows were written. The upload is deleted after an import; a
    dry run keeps it for the import that may follow."""
    from carebiz.models import User

    path = upload_path(ctx.app.instance_path, upload)
    keep = False
    try:
        with force_locale(locale) if locale else nullcontext():
            user = ctx.session.get(User, ctx.user_id) if ctx.user_id else None
            if user is not None:
                ctx.session.info["actor"] = user
            try:
                table = read_path(path)
            except FileNotFoundError:
                raise NotFound(_("The uploaded file is no longer available. Upload it "
                                 "again.")) from None

            def progress(done: int, total: int, stage: str = "") -> None:
                if stage == "check":
                    ctx.progress(50 * done / total, _("Checking row %(done)d of %(total)d",
                                                      done=done, total=total))
                elif stage == "write":
                    ctx.progress(50 + 50 * done / total, _(
                        "Importing row %(done)d of %(total)d", done=done, total=total))
                else:
                    ctx.progress(100 * done / total,
                                 _("Row %(done)d of %(total)d", done=done, total=total))

            report = loop.import_table(ctx.session, table,
                                       Options(on_existing, bool(only_valid), rows),
                                       user=user, dry_run=bool(dry_run), progress=progress,
                                       batch_rows=loop.BATCH_ROWS)
            if not dry_run and not report.committed:
                raise ValidationFailed(failure_message(report))
            result = report.as_dict()
            result["filename"] = filename
            keep = bool(dry_run)
            return result
    finally:
        if not keep:
            path.unlink(missing_ok=True)
