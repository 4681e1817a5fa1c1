"""The loop over the rows: each row in its own SAVEPOINT, the whole file in one transaction
or, for large files, in committed batches that let other writers in between."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from carebiz.concurrency import Busy, begin_write, yield_to_writers
from carebiz.crm.importing.decoding import Table
from carebiz.crm.importing.headers import ColumnMap, map_columns
from carebiz.crm.importing.report import Options, Progress, Report, new_report
from carebiz.crm.importing.rows import RowImporter

log = logging.getLogger(__name__)

#: the progress bar moves in steps of this share of the rows
PROGRESS_STEP = 0.02
#: rows per transaction of the background import, at most: other writers wait at most
#: about one batch while a large file is imported
BATCH_ROWS = 500
#: and seconds per transaction at most, so that on a slow or busy machine, too, other
#: writers wait about a second for SQLite's write lock rather than a whole batch
BATCH_SECONDS = 1.0


def import_table(session: Session, table: Table, options: Options | None = None, *,
                 user: Any = None, dry_run: bool = True, progress: Progress | None = None,
                 batch_rows: int | None = None) -> Report:
    """Import (or with ``dry_run`` only try) every row of ``table``.

    Each row runs in a SAVEPOINT that is released when it is good and rolled back when it is
    bad, so later rows see the customers earlier rows created (a second row with the same
    phone adds its vehicle to the first row's customer) in the dry run as in the import.

    Without ``batch_rows`` the whole run is one transaction the caller ends: a dry run, and
    an all-or-nothing import with bad rows, roll their SAVEPOINT back and leave the session
    as they found it; what is kept is flushed but not committed. That holds SQLite's single
    write lock for the whole file, so large files go through :func:`import_batched`
    (``batch_rows``), which commits as it goes."""
    options = (options or Options()).check()
    cmap = map_columns(session, table.headers)
    if batch_rows is not None:
        return import_batched(session, table, cmap, options, user=user, dry_run=dry_run,
                              progress=progress, batch_rows=batch_rows)
    report = new_report(table, cmap, options, dry_run)
    outer = session.begin_nested()
    worker = RowImporter(session, cmap, options, user)
    total = len(table.rows)
    step = max(1, int(total * PROGRESS_STEP))

    def tick(done: int) -> None:
        if progress is not None and (done % step == 0 or done == total):
            progress(done, total)

    try:
        _import_rows(session, worker, report, table.rows, tick)
    except BaseException:
        outer.rollback()
        raise
    if dry_run or (report.errors and not options.only_valid):
        outer.rollback()
    else:
        outer.commit()
        report.committed = True
    return report



def _import_rows(session: Session, worker: RowImporter, report: Report,
                 rows: list[tuple[int, list[str]]], tick: Callable[[int], None],
                 deadline: float | None = None) -> int:
    """Run ``rows``, each in its own SAVEPOINT, into the open transaction; stop early
    after the row that passes ``deadline`` (``time.monotonic()``). Returns how many ran."""
    done = 0
    for done, (number, cells) in enumerate(rows, start=1):
        savepoint = session.begin_nested()
        before = len(report.errors)
        try:
            worker.row(report, number, cells)
        except SQLAlchemyError:
            log.exception("import row %s failed in the database", number)
            if len(report.errors) == before:
                report.counts["invalid"] += 1
                worker.error(report, number, "", _("The row could not be saved because "
                                                   "of a database error."))
        if len(report.errors) > before:
            savepoint.rollback()
        else:
            savepoint.commit()
        tick(done)
        if deadline is not None and time.monotonic() >= deadline:
            break
    return done


def import_batched(session: Session, table: Table, cmap: ColumnMap, options: Options, *,
                   user: Any = None, dry_run: bool = True, progress: Progress | None = None,
                   batch_rows: int = 500) -> Report:
    """The import of a large file, ``batch_rows`` rows per transaction (fewer when they
    take longer than :data:`BATCH_SECONDS`), so that other
    people keep working while it runs: on SQLite only one transaction writes at a time,
    and a 20,000-row file in one transaction would keep everyone else waiting (and failing)
    for more than a minute. Each batch takes the write lock up front and, when committed,
    pauses for waiting writers (:mod:`carebiz.concurrency`).

    The session must have nothing pending: the batches end its transaction. What each mode
    means stays the same:

    * ``dry_run``: every batch is rolled back;
    * ``only_valid``: each batch commits its good rows;
    * all-or-nothing (the default): a first pass checks every row exactly like a dry run;
      with a bad row nothing is written. Only then a second pass writes, batch by batch. If
      a row fails there after all (someone registered the same VIN in between, or a
      duplicate more than a batch apart in the file), that batch is rolled back and the
      import stops: ``report.imported_through`` names the last row written and
      ``report.stopped_at`` the row that failed, and :func:`failure_message` says so.

    The dry pass rolls each batch back, so it sees what earlier *batches* created only when
    that decides nothing else (a repeated phone is counted as a new customer, a VIN repeated
    for another customer is not yet an error); the writing pass sees everything."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a batched import needs a session without pending changes")
    if session.in_transaction():
        session.commit()  # nothing pending: only ends a read transaction
    size = max(1, int(batch_rows))
    if dry_run or options.only_valid:
        return _batches(session, table, cmap, options, user, dry_run=dry_run,
                        stop_on_error=False, size=size, progress=progress)
    checked = _batches(session, table, cmap, options, user, dry_run=True, stop_on_error=False,
                       size=size, progress=progress, stage="check")
    if checked.errors:
        checked.dry_run = False
        return checked
    return _batches(session, table, cmap, options, user, dry_run=False, stop_on_error=True,
                    size=size, progress=progress, stage="write")


def _batches(session: Session, table: Table, cmap: ColumnMap, options: Options, user: Any, *,
             dry_run: bool, stop_on_error: bool, size: int, progress: Progress | None,
             stage: str = "") -> Report:
    """One pass over the rows in transactions of ``size`` rows (or fewer, when a batch
    takes :data:`BATCH_SECONDS`): rolled back (``dry_run``) or committed; with
    ``stop_on_error`` the first batch with a bad row is rolled back and the pass ends
    there."""
    report = new_report(table, cmap, options, dry_run)
    worker = RowImporter(session, cmap, options, user)
    rows = table.rows
    total = len(rows)
    start = 0
    while start < total:
        batch = rows[start:start + size]
        counts, matches, errors = dict(report.counts), len(report.matches), len(report.errors)
        try:
            begin_write(session)  # SQLite: the write lock now, so reads stay true
            ran = _import_rows(session, worker, report, batch, lambda _done: None,
                               deadline=time.monotonic() + BATCH_SECONDS)
        except Busy as exc:
            session.rollback()
            if dry_run or report.imported_through is None:
                raise
            report.counts, report.matches = counts, report.matches[:matches]
            report.errors[errors:] = [{"row": batch[0][0], "column": "", "reason": exc.message}]
            report.stopped_at = batch[0][0]
            break
        except BaseException:
            session.rollback()
            raise
        batch = batch[:ran]
        failed = len(report.errors) > errors
        if dry_run:
            session.rollback()
            worker.created.clear()  # rolled back: their ids may be given to new rows
        elif failed and stop_on_error:
            session.rollback()
            report.counts, report.matches = counts, report.matches[:matches]
            report.stopped_at = report.errors[errors]["row"]
            break
        else:
            session.commit()
            report.imported_through = batch[-1][0]
        start += ran
        if progress is not None:
            if stage:
                progress(start, total, stage)
            else:
                progress(start, total)
        if start < total:
            yield_to_writers(session)
    report.committed = not dry_run and report.stopped_at is None
    return report

